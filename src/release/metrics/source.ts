import type { ArmWindow } from "../analysis/window";

/**
 * Cumulative counters of one revision at one instant. The driver turns two
 * readings into a window (their difference), so windows are exact counts:
 * no rate() or increase() extrapolation.
 */
export type ArmTotals = ArmWindow;

export interface MetricsReading {
  at: number;
  candidate: ArmTotals;
  stable: ArmTotals;
}

/** The metrics backend could not answer; the sequencer treats this as inconclusive, not as a pass. */
export class MetricsUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricsUnavailable";
  }
}

export interface MetricsSource {
  readonly description: string;
  read(candidate: string, stable: string, at: number): Promise<MetricsReading>;
  /** One arm alone (stable's history before the rollout, when the candidate may have no series yet). */
  readArm(revision: string, at: number): Promise<ArmTotals>;
}

/** Window between two readings; a counter that went down (a restart) makes that arm's window empty. */
export function difference(prev: ArmTotals, cur: ArmTotals): ArmWindow {
  const requests = cur.requests - prev.requests;
  const errors = cur.errors - prev.errors;
  if (requests < 0 || errors < 0) return { requests: 0, errors: 0, latency: [] };
  const before = new Map(prev.latency.map((b) => [b.le, b.count]));
  const latency = cur.latency.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) }));
  if (latency.some((b) => b.count < 0)) return { requests, errors, latency: [] };
  return { requests, errors, latency };
}
