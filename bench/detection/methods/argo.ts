import { measurePerInterval, type Method } from "./method";

/**
 * An Argo Rollouts AnalysisTemplate: one measurement per interval,
 * `successCondition: result >= 0.99` on the canary's success rate; a
 * measurement failing it counts towards `failureLimit` (the analysis fails,
 * and the rollout aborts, when failures exceed it); an empty result is
 * inconclusive, and with `inconclusiveLimit: 0` the first one makes the
 * analysis Inconclusive: the rollout pauses for a person.
 */
export const argo = (failureLimit: number): Method => ({
  id: `argo-fl${failureLimit}`,
  params: `interval 60 s, successCondition result >= 0.99, failureLimit ${failureLimit}, inconclusiveLimit 0 (empty result = inconclusive)`,
  source:
    failureLimit === 0
      ? "Argo Rollouts docs, Analysis: failureLimit and inconclusiveLimit default to 0"
      : "Argo Rollouts docs, Analysis examples (failureLimit set above 0)",
  run(windows, stepSeconds) {
    let failures = 0;
    return measurePerInterval(windows, stepSeconds, (arm) => {
      if (arm.requests === 0) return "paused";
      return (arm.requests - arm.errors) / arm.requests < 0.99 && ++failures > failureLimit ? "rollback" : undefined;
    });
  },
});
