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

/** One gate's figure in its own unit (pure): rates as percentages, ratios as ×, counts as counts. */
export function formatGate(m: { gate: string; value: number; threshold: number }): string {
  const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 3 : 2)}%`;
  const ratio = (x: number) => (Number.isFinite(x) && x < 1e6 ? `${Number(x.toFixed(2))}×` : "∞×");
  switch (m.gate) {
    case "guardrail:error-rate":
    case "step:error-rate":
      return `${m.gate} ${pct(m.value)} (≤ ${pct(m.threshold)})`;
    case "guardrail:p95-latency":
    case "step:p95-latency":
      // The p95 gates count the share of requests slower than the latency limit: at most 5% may be.
      return `${m.gate} ${pct(m.value)} of requests over the limit (≤ ${pct(m.threshold)})`;
    case "comparative:error-rate":
    case "comparative:latency":
      return `${m.gate} ${ratio(m.value)} stable's (≤ ${ratio(m.threshold)})`;
    case "comparative:latency-baseline":
      return `${m.gate} ${m.value} of ${m.threshold} requests compared`;
    case "guardrail:health":
      return `${m.gate} ${m.value} failed checks in a row (< ${m.threshold})`;
    default:
      return `${m.gate} ${m.value} (≤ ${m.threshold})`;
  }
}

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
    if (r.failure)
      out.push(`  failed gate: ${r.failure.gate} at step ${r.failure.step} (${r.failure.weight}%): value ${r.failure.value}, threshold ${r.failure.threshold}`);
    for (const s of r.steps.slice(-5)) {
      const gates = s.measurements.map(formatGate).join("; ");
      out.push(
        `  step ${s.step} at ${s.weight}%: ${s.outcome} after ${s.seconds} s, ${s.candidateRequests} candidate / ${s.stableRequests} stable requests${gates ? ` | ${gates}` : ""}`,
      );
    }
  }
  return `${out.join("\n")}\n`;
}
