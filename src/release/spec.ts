import type { ReleaseConfig } from "../config/schema";
import type { ReleaseSpec, TrafficGate, PromotionGate } from "./sequencer";

/** Guardrails from the requirements, for strategies whose config carries no analysis block. */
const DEFAULT_ANALYSIS = {
  alpha: 0.05,
  comparativeMargin: 0.1,
  guardrails: { errorRate: 0.05, p95LatencyMs: 2000, consecutiveHealthFailures: 3 },
} as const;

const DEFAULT_CRITERIA = [{ fromWeight: 0, criteria: { errorRate: 0.05, p95LatencyMs: 2000 } }];

/** Pure: the validated release config of a stack → the sequencer's spec. */
export function releaseSpec(release: ReleaseConfig): ReleaseSpec {
  const hooks = release.webhooks;
  const has = (type: string) => hooks.some((h) => h.type === type);
  const gatesBeforeTraffic: TrafficGate[] = [
    ...(release.smokeTests.paths.length > 0 || release.smokeTests.websocketPath !== undefined ? (["smoke"] as const) : []),
    ...(has("pre-rollout") ? (["pre-rollout"] as const) : []),
    ...(has("confirm-rollout") ? (["confirm-rollout"] as const) : []),
  ];
  const promotionHooks: PromotionGate[] = has("confirm-promotion") ? ["confirm-promotion"] : [];

  switch (release.strategy) {
    case "direct":
      return {
        strategy: "direct",
        steps: [100],
        bakeSeconds: 0,
        maxStepSeconds: 1,
        onInconclusive: "rollback",
        autoRollback: true,
        analysis: { ...DEFAULT_ANALYSIS },
        stepCriteria: DEFAULT_CRITERIA,
        metricsUnavailableLimitSeconds: 300,
        gatesBeforeTraffic,
        gatesBeforePromotion: promotionHooks,
      };
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
        metricsUnavailableLimitSeconds: a.metricsUnavailableLimitSeconds,
        gatesBeforeTraffic,
      };
      if (release.strategy === "blue-green") {
        return {
          ...common,
          strategy: "blue-green",
          steps: release.switch.mode === "immediate" ? [100] : release.switch.steps,
          maxStepSeconds: Math.max(release.bakeSeconds * 4, 600),
          gatesBeforePromotion: promotionHooks,
        };
      }
      return {
        ...common,
        strategy: "canary",
        steps: release.steps,
        maxStepSeconds: release.maxStepSeconds,
        gatesBeforePromotion: [...promotionHooks, ...(release.manualApproval ? (["manual-approval"] as const) : [])],
      };
    }
  }
}
