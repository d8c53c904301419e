import type { Failure, Phase } from "./sequencer";

/** One step of a release as the TrafficSplit's `steps` output records it. */
export interface StepSummary {
  step: number;
  weight: number;
  outcome: string;
  seconds: number;
  candidateRequests: number;
  stableRequests: number;
  measurements: { gate: string; value: number; threshold: number; logEvidence: number; logBar: number }[];
}

/**
 * A release as the stack's outputs record it (the `releases` output, one
 * entry per TrafficSplit): what `npm run status` prints. Plain data, the
 * TrafficSplit's own outputs.
 */
export interface ReleaseRecord {
  phase: Phase;
  stableRevision: string;
  candidateRevision: string;
  liveCandidateWeight: number;
  message: string;
  failure: Failure | null;
  restoreMs: number | null;
  startedAt: string;
  finishedAt: string;
  /** The evidence figures (logEvidence, logBar) stay in the TrafficSplit's state. */
  steps: (Omit<StepSummary, "measurements"> & { measurements: Pick<StepSummary["measurements"][number], "gate" | "value" | "threshold">[] })[];
}

const cell = (m: { gate: string; value: number; threshold: number }) => {
  const rate = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 3 : 2)}%`;
  // Rates and ratios are stored as numbers; a value ≤ 1 against a threshold ≤ 1 is a rate.
  const shown = m.value <= 1 && m.threshold <= 1 ? `${rate(m.value)} (≤ ${rate(m.threshold)})` : `${Number(m.value.toFixed(3))} (≤ ${m.threshold})`;
  return `${m.gate} ${shown}`;
};

/** The status of each release, for a person (pure). */
export function formatStatus(stack: string, releases: Record<string, ReleaseRecord>): string {
  const names = Object.keys(releases).sort();
  if (names.length === 0) return `stack ${stack}: no release in progress or recorded (no TrafficSplit: nothing to shift)\n`;
  const out: string[] = [];
  for (const name of names) {
    const r = releases[name]!;
    out.push(`${name}: ${r.phase}; candidate ${r.candidateRevision} carries ${r.liveCandidateWeight}%, stable is ${r.stableRevision}`);
    out.push(`  ${r.message}`);
    out.push(`  started ${r.startedAt}, last change ${r.finishedAt}${r.restoreMs !== null ? `, traffic restored to stable in ${r.restoreMs} ms` : ""}`);
    if (r.failure) out.push(`  failed gate: ${r.failure.gate} at step ${r.failure.step} (${r.failure.weight}%): value ${r.failure.value}, threshold ${r.failure.threshold}`);
    for (const s of r.steps.slice(-5)) {
      const gates = s.measurements.map(cell).join("; ");
      out.push(`  step ${s.step} at ${s.weight}%: ${s.outcome} after ${s.seconds} s, ${s.candidateRequests} candidate / ${s.stableRequests} stable requests${gates ? ` | ${gates}` : ""}`);
    }
  }
  return `${out.join("\n")}\n`;
}
