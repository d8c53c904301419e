import type { ReleaseConfig } from "../config/schema";
import { ANALYSIS_DEFAULTS } from "../config/defaults";
import type { AnalysisSettings, StepCriteria } from "./analysis/judge";

/**
 * What a release is: its strategy, steps, analysis and gates, as the
 * sequencer and the forecast read it. Derived once from the stack's
 * validated config (`releaseSpec`) and carried as the TrafficSplit's input.
 */

export type Strategy = "direct" | "blue-green" | "canary";
export type TrafficGate = "smoke" | "pre-rollout" | "confirm-rollout";
/** `candidate-health`: the candidate's health endpoint answers at the moment of promotion. */
export type PromotionGate = "candidate-health" | "confirm-promotion" | "manual-approval";
export type GateName = TrafficGate | PromotionGate;

export interface ReleaseSpec {
  strategy: Strategy;
  /** Candidate weights in order; the last is 100. */
  steps: number[];
  /** Minimum dwell per analysed step; for blue-green also the monitoring time at 100%. */
  bakeSeconds: number;
  /** After this long without a verdict a step is inconclusive. */
  maxStepSeconds: number;
  onInconclusive: "rollback" | "hold";
  /** Off: a failed gate holds traffic where it is for a person to decide. */
  autoRollback: boolean;
  analysis: AnalysisSettings;
  /** Criteria by the smallest weight they apply from (sorted ascending). */
  stepCriteria: { fromWeight: number; criteria: StepCriteria }[];
  /** Candidate requests an analysed step must have seen before it may pass (the evidence rule). */
  minStepRequests: number;
  metricsUnavailableLimitSeconds: number;
  gatesBeforeTraffic: TrafficGate[];
  gatesBeforePromotion: PromotionGate[];
}

/** Criteria for a weight: the entry with the largest fromWeight ≤ weight, else the first. */
export function criteriaFor(spec: ReleaseSpec, weight: number): StepCriteria {
  let chosen = spec.stepCriteria[0]!.criteria;
  for (const c of spec.stepCriteria) if (c.fromWeight <= weight) chosen = c.criteria;
  return chosen;
}

/** Blue-green analyses its 100% step (the bake); canary and direct do not (nothing is left to compare with). */
export const isAnalysed = (spec: Pick<ReleaseSpec, "strategy">, weight: number) => weight < 100 || spec.strategy === "blue-green";

/** Guardrails for strategies whose config carries no analysis block (direct, the emergency path): the configured defaults. */
const { alpha, comparativeMargin, guardrails, metricsUnavailableLimitSeconds } = ANALYSIS_DEFAULTS;
// Functions, not shared objects: every spec gets its own copy, so no caller can change the next spec's guardrails.
const defaultAnalysis = (): AnalysisSettings => ({ alpha, comparativeMargin, guardrails: { ...guardrails } });

/** Without step criteria every weight is judged by the guardrails alone. */
const defaultCriteria = () => [{ fromWeight: 0, criteria: { errorRate: guardrails.errorRate, p95LatencyMs: guardrails.p95LatencyMs } }];

/** A spec that goes straight to 100% with no gate: what `releaseImmediately` (the emergency rollback) runs. */
export function immediateSpec(): ReleaseSpec {
  return {
    strategy: "direct",
    steps: [100],
    bakeSeconds: 0,
    maxStepSeconds: 1,
    onInconclusive: "rollback",
    autoRollback: true,
    analysis: defaultAnalysis(),
    stepCriteria: defaultCriteria(),
    minStepRequests: 0,
    metricsUnavailableLimitSeconds,
    gatesBeforeTraffic: [],
    gatesBeforePromotion: [],
  };
}

/** Pure: the validated release config of a stack → the sequencer's spec. */
export function releaseSpec(release: ReleaseConfig): ReleaseSpec {
  const hooks = release.webhooks;
  const has = (type: string) => hooks.some((h) => h.type === type);
  const gatesBeforeTraffic: TrafficGate[] = [
    ...(release.smokeTests.paths.length > 0 || release.smokeTests.websocketPath !== undefined ? (["smoke"] as const) : []),
    ...(has("pre-rollout") ? (["pre-rollout"] as const) : []),
    ...(has("confirm-rollout") ? (["confirm-rollout"] as const) : []),
  ];
  // Every promotion needs the candidate answering its health check at that moment.
  const promotionGates: PromotionGate[] = ["candidate-health", ...(has("confirm-promotion") ? (["confirm-promotion"] as const) : [])];

  switch (release.strategy) {
    case "direct":
      return { ...immediateSpec(), gatesBeforeTraffic, gatesBeforePromotion: promotionGates };
    case "blue-green":
    case "canary": {
      const a = release.analysis;
      const stepCriteria = Object.entries(a.stepCriteria)
        .map(([w, criteria]) => ({ fromWeight: Number(w), criteria }))
        .sort((x, y) => x.fromWeight - y.fromWeight);
      const common = {
        bakeSeconds: release.bakeSeconds,
        onInconclusive: a.onInconclusive,
        autoRollback: release.autoRollback,
        analysis: { alpha: a.alpha, comparativeMargin: a.comparativeMargin, guardrails: a.guardrails },
        stepCriteria: stepCriteria.length > 0 ? stepCriteria : defaultCriteria(),
        minStepRequests: a.minRequests,
        metricsUnavailableLimitSeconds: a.metricsUnavailableLimitSeconds,
        gatesBeforeTraffic,
      };
      if (release.strategy === "blue-green") {
        return {
          ...common,
          strategy: "blue-green",
          steps: release.switch.mode === "immediate" ? [100] : release.switch.steps,
          maxStepSeconds: Math.max(release.bakeSeconds * 4, 600),
          gatesBeforePromotion: promotionGates,
        };
      }
      return {
        ...common,
        strategy: "canary",
        steps: release.steps,
        maxStepSeconds: release.maxStepSeconds,
        gatesBeforePromotion: [...promotionGates, ...(release.manualApproval ? (["manual-approval"] as const) : [])],
      };
    }
  }
}
