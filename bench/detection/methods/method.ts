import { addArms, type ArmWindow } from "../../../src/release/analysis/window";
import type { Window } from "../streams";

/** How one run ended for one method. */
export interface Outcome {
  kind: "rollback" | "promote" | "paused";
  /** Seconds after the step started. */
  seconds: number;
  /** Candidate requests served until then. */
  candidateRequests: number;
}

/** A release-analysis method under test: it sees the same windows as every other. */
export interface Method {
  id: string;
  /** The configuration, in the method's own terms. */
  params: string;
  /** Where the behaviour and defaults come from. */
  source: string;
  /** `stableHistory`: the baseline's traffic in the 10 minutes before the rollout (all of it on stable), for methods that read it. */
  run(windows: Iterable<Window>, stepSeconds: number, context?: { stableHistory?: ArmWindow }): Outcome;
}

/** Accumulates windows into fixed intervals (Flagger's and Argo's `interval`, Kayenta's buckets). */
export function* intervals(windows: Iterable<Window>, seconds: number): Generator<{ t: number; windows: Window[]; candidateRequests: number }> {
  let batch: Window[] = [];
  let served = 0;
  for (const w of windows) {
    batch.push(w);
    served += w.candidate.requests;
    if (w.t % seconds < 1e-9 || Math.abs((w.t % seconds) - seconds) < 1e-9) {
      yield { t: w.t, windows: batch, candidateRequests: served };
      batch = [];
    }
  }
}

/**
 * A rule that measures the candidate once per interval (Flagger's and
 * Argo's checks): `measure` sees the interval's candidate totals and may
 * end the run; a candidate still standing at the end of the step is promoted.
 */
export function measurePerInterval(
  windows: Iterable<Window>,
  stepSeconds: number,
  measure: (candidate: ArmWindow) => "rollback" | "paused" | undefined,
): Outcome {
  let served = 0;
  let t = 0;
  for (const iv of intervals(windows, 60)) {
    t = iv.t;
    served = iv.candidateRequests;
    const kind = measure(iv.windows.map((w) => w.candidate).reduce(addArms));
    if (kind) return { kind, seconds: iv.t, candidateRequests: served };
  }
  return { kind: "promote", seconds: Math.max(t, stepSeconds), candidateRequests: served };
}
