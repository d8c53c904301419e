import { forecast } from "./analysis/forecast";
import type { TrafficSplitInputs } from "./provider/inputs";
import { criteriaFor, type ReleaseSpec } from "./spec";

/**
 * What a release will do, computed offline (pure): the rehearsal a person
 * reads before starting one (`npm run rollout -- --plan`), and the check
 * that refuses a release whose own forecast says it cannot conclude.
 */
export interface ReleasePlan {
  stable: string;
  candidate: string;
  strategy: ReleaseSpec["strategy"];
  gatesBeforeTraffic: string[];
  gatesBeforePromotion: string[];
  steps: {
    weight: number;
    analysed: boolean;
    criteria: { errorRate: number; p95LatencyMs: number } | null;
    bakeSeconds: number;
    limitSeconds: number;
    requestsNeeded: number;
    expectedSeconds: number;
    /** Smallest candidate/stable error-rate ratio detected with 80% power by the step's end (null: no comparison at this step). */
    detectableErrorRatio: number | null;
    conclusive: boolean;
  }[];
  expectedSeconds: number;
  deadlineSeconds: number;
  assumptions: string;
  /** False when a step is forecast to end without a verdict (too little traffic for its limit) or the deadline is too short. */
  conclusive: boolean;
  inconclusive: string[];
  advice: string;
}

/** What a plan reads of a split: the release and its deadline (a component passes its config, the CLI a rollout file). */
export type PlanInputs = Pick<TrafficSplitInputs, "stable" | "candidate" | "release" | "deadlineSeconds">;

export function planOf(i: PlanInputs, spec: ReleaseSpec): ReleasePlan {
  const rps = i.release.strategy === "direct" ? 0 : i.release.analysis.expectedRps;
  const f = forecast(spec, rps);
  const steps = f.steps.map((s, idx) => {
    const analysed = s.expectedSeconds > 0 || s.requestsNeeded > 0;
    return {
      weight: s.weight,
      analysed,
      criteria: analysed ? criteriaFor(spec, s.weight) : null,
      bakeSeconds: analysed ? spec.bakeSeconds : 0,
      limitSeconds: analysed ? spec.maxStepSeconds : 0,
      requestsNeeded: s.requestsNeeded,
      expectedSeconds: Number.isFinite(s.expectedSeconds) ? s.expectedSeconds : -1,
      detectableErrorRatio: Number.isFinite(s.detectableErrorRatio) ? s.detectableErrorRatio : null,
      conclusive: !s.exceedsMax,
      index: idx,
    };
  });
  const inconclusive = steps
    .filter((s) => !s.conclusive)
    .map(
      (s) =>
        `step ${s.index + 1} (${s.weight}%) needs ${s.requestsNeeded} candidate requests, about ${s.expectedSeconds < 0 ? "∞" : s.expectedSeconds} s at ${rps} req/s, but its limit is ${s.limitSeconds} s`,
    );
  const total = steps.reduce((a, s) => a + Math.max(0, s.expectedSeconds), 0);
  if (i.release.strategy !== "direct" && total > i.deadlineSeconds)
    inconclusive.push(`the whole release is expected to take ${total} s, beyond its deadline of ${i.deadlineSeconds} s`);
  return {
    stable: i.stable,
    candidate: i.candidate,
    strategy: spec.strategy,
    gatesBeforeTraffic: spec.gatesBeforeTraffic,
    gatesBeforePromotion: spec.gatesBeforePromotion,
    steps: steps.map(({ index: _index, ...s }) => s),
    expectedSeconds: total,
    deadlineSeconds: i.deadlineSeconds,
    assumptions: f.assumptions,
    conclusive: inconclusive.length === 0,
    inconclusive,
    advice: "raise the first steps' weights, lengthen maxStepSeconds (or the deadline), or release when more traffic is expected (analysis.expectedRps)",
  };
}

export function formatPlan(p: ReleasePlan): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines = [
    `release ${p.candidate} over ${p.stable}: ${p.strategy}; gates before traffic: ${p.gatesBeforeTraffic.join(", ") || "none"}; before promotion: ${p.gatesBeforePromotion.join(", ") || "none"}`,
    `assumes ${p.assumptions}`,
    ...p.steps.map((s) =>
      s.analysed
        ? `  ${s.weight}%: criteria error rate < ${pct(s.criteria!.errorRate)}, p95 < ${s.criteria!.p95LatencyMs} ms; bake ${s.bakeSeconds} s, limit ${s.limitSeconds} s; needs ${s.requestsNeeded} candidate requests, ~${s.expectedSeconds < 0 ? "∞" : s.expectedSeconds} s${s.detectableErrorRatio !== null ? `; detects error-rate regressions ≥ ${s.detectableErrorRatio}×` : ""}${s.conclusive ? "" : " — INCONCLUSIVE within the limit"}`
        : `  ${s.weight}%: promotion (after the gates before promotion)`,
    ),
    `expected ~${p.expectedSeconds} s in all; deadline ${p.deadlineSeconds} s`,
    p.conclusive ? "plan: every step can reach a verdict" : `plan: ${p.inconclusive.join("; ")}; ${p.advice}`,
  ];
  return lines.join("\n");
}

/**
 * Production does not start a release its own forecast says will end without
 * a verdict (and so in a rollback), unless told to: the reason, or undefined.
 * Asked by the TrafficSplit (check, and again before a rollout) and by the
 * Release component, so the offline plan and a preview say it first.
 */
export function forecastRefusal(
  i: PlanInputs & Pick<TrafficSplitInputs, "environment" | "immediate" | "allowInconclusive">,
  spec: ReleaseSpec,
): string | undefined {
  if ((i.environment ?? "production") !== "production" || i.release.strategy === "direct" || i.immediate || i.allowInconclusive) return undefined;
  const plan = planOf(i, spec);
  return plan.conclusive
    ? undefined
    : `${plan.inconclusive.join("; ")}. Nothing was started: ${plan.advice}, or accept it with allowInconclusive (stack config: releaseAllowInconclusive: "true")`;
}
