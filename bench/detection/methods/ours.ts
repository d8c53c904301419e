import { judge, newEvidence, observe, type AnalysisSettings, type StepCriteria } from "../../../src/release/analysis/judge";
import { ANALYSIS_DEFAULTS } from "../../../src/config/defaults";
import type { Method } from "./method";

/** The production defaults of this project (src/config/defaults.ts), judged after every window. */
export const OUR_SETTINGS: AnalysisSettings = {
  alpha: ANALYSIS_DEFAULTS.alpha,
  comparativeMargin: ANALYSIS_DEFAULTS.comparativeMargin,
  guardrails: { ...ANALYSIS_DEFAULTS.guardrails },
};
/** The first step's criteria (10%), where a regression is first exposed. */
const CRITERIA: StepCriteria = ANALYSIS_DEFAULTS.stepCriteria["10"];

export const ours = (windowSeconds: number): Method => ({
  id: "ours",
  params: `anytime-valid e-processes, α=${OUR_SETTINGS.alpha} (45/45/5/5 split), margin ${OUR_SETTINGS.comparativeMargin * 100}%, guardrails ${OUR_SETTINGS.guardrails.errorRate * 100}% errors / p95 ${OUR_SETTINGS.guardrails.p95LatencyMs / 1000} s, judged every ${windowSeconds} s; latency boundary from stable's last 10 minutes`,
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
