import type { ReleaseConfig } from "../config/schema";
import type { PromotionGate, ReleaseSpec, TrafficGate } from "./sequencer";

/** Guardrails and criteria for strategies whose config carries no analysis block (direct, the emergency path). */
const DEFAULT_ANALYSIS = {
  alpha: 0.05,
  comparativeMargin: 0.1,
  guardrails: { errorRate: 0.05, p95LatencyMs: 2000, consecutiveHealthFailures: 3 },
} as const;

const DEFAULT_CRITERIA = [{ fromWeight: 0, criteria: { errorRate: 0.05, p95LatencyMs: 2000 } }];

/** A spec that goes straight to 100% with no gate: what `releaseImmediately` (the emergency rollback) runs. */
export function immediateSpec(): ReleaseSpec {
  return {
    strategy: "direct",
    steps: [100],
    bakeSeconds: 0,
    maxStepSeconds: 1,
    onInconclusive: "rollback",
    autoRollback: true,
    analysis: { ...DEFAULT_ANALYSIS },
    stepCriteria: DEFAULT_CRITERIA,
    minStepRequests: 0,
    metricsUnavailableLimitSeconds: 300,
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
        stepCriteria: stepCriteria.length > 0 ? stepCriteria : DEFAULT_CRITERIA,
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
