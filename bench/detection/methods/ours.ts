import { judge, newEvidence, observe, type AnalysisSettings, type StepCriteria } from "../../../src/release/analysis/judge";
import type { Method } from "./method";

/** The production defaults of this project (src/config/defaults.ts), judged after every window. */
export const OUR_SETTINGS: AnalysisSettings = {
  alpha: 0.05,
  comparativeMargin: 0.1,
  guardrails: { errorRate: 0.05, p95LatencyMs: 2000, consecutiveHealthFailures: 3 },
};
const CRITERIA: StepCriteria = { errorRate: 0.01, p95LatencyMs: 500 };

export const ours = (windowSeconds: number): Method => ({
  id: "ours",
  params: `anytime-valid e-processes, α=${OUR_SETTINGS.alpha} (45/45/5/5 split), margin ${OUR_SETTINGS.comparativeMargin * 100}%, guardrails 5% errors / p95 2 s, judged every ${windowSeconds} s; latency boundary from stable's last 10 minutes`,
  source: "src/release/analysis (this repository)",
  run(windows, stepSeconds, context) {
    let e = newEvidence(context?.stableHistory);
    let served = 0;
    let t = 0;
    for (const w of windows) {
      t = w.t;
      served += w.candidate.requests;
      e = observe(e, { candidate: w.candidate, stable: w.baseline }, OUR_SETTINGS, CRITERIA);
      if (judge(e, OUR_SETTINGS, CRITERIA, { comparative: true }).outcome === "fail") return { kind: "rollback", seconds: w.t, candidateRequests: served };
    }
    return { kind: "promote", seconds: Math.max(t, stepSeconds), candidateRequests: served };
  },
});
