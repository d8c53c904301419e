import { describe, expect, it } from "vitest";
import { ANALYSIS_DEFAULTS } from "../../src/config/defaults";
import { criteriaFor, immediateSpec, isAnalysed } from "../../src/release/spec";
import { specFor } from "../support/specs";

const hook = (name: string, type: string) => ({ name, type, url: `https://hooks.example.com/${name}` });

describe("releaseSpec: the stack's release config → the sequencer's spec", () => {
  it.each([
    // environment, overrides, strategy, steps, gates before traffic, gates before promotion
    ["dev", {}, "direct", [100], ["smoke"], ["candidate-health"]],
    ["staging", {}, "blue-green", [100], ["smoke"], ["candidate-health"]],
    ["production", {}, "canary", [5, 10, 25, 50, 100], ["smoke"], ["candidate-health"]],
    [
      "production",
      { manualApproval: true, approval: { source: "file", path: "approvals/web.json", timeoutSeconds: 600 } },
      "canary",
      [5, 10, 25, 50, 100],
      ["smoke"],
      ["candidate-health", "manual-approval"],
    ],
    [
      "production",
      { webhooks: [hook("pre", "pre-rollout"), hook("confirm", "confirm-rollout"), hook("promo", "confirm-promotion")] },
      "canary",
      [5, 10, 25, 50, 100],
      ["smoke", "pre-rollout", "confirm-rollout"],
      ["candidate-health", "confirm-promotion"],
    ],
    ["staging", { switch: { mode: "gradual", steps: [50, 100] } }, "blue-green", [50, 100], ["smoke"], ["candidate-health"]],
    // No smoke path and no WebSocket check: no smoke gate, but promotion still needs the health check.
    ["production", { smokeTests: { paths: [], websocketPath: null } }, "canary", [5, 10, 25, 50, 100], [], ["candidate-health"]],
    ["production", { smokeTests: { paths: [], websocketPath: "/ws" } }, "canary", [5, 10, 25, 50, 100], ["smoke"], ["candidate-health"]],
  ] as const)("%s %j → %s over %j, traffic gates %j, promotion gates %j", (env, overrides, strategy, steps, traffic, promotion) => {
    const spec = specFor(env, overrides);
    expect(spec.strategy).toBe(strategy);
    expect(spec.steps).toEqual(steps);
    expect(spec.gatesBeforeTraffic).toEqual(traffic);
    expect(spec.gatesBeforePromotion).toEqual(promotion);
  });

  it("a canary's criteria are sorted by weight whatever their order in the config, and criteriaFor picks the last that applies", () => {
    const spec = specFor("production", {
      analysis: {
        stepCriteria: {
          "50": { errorRate: 0.005, p95LatencyMs: 300 },
          "5": { errorRate: 0.02, p95LatencyMs: 900 },
          "25": { errorRate: 0.01, p95LatencyMs: 500 },
        },
      },
    });
    expect(spec.stepCriteria.map((c) => c.fromWeight)).toEqual([5, 10, 25, 50]);

    expect.soft(criteriaFor(spec, 1)).toEqual({ errorRate: 0.02, p95LatencyMs: 900 }); // below every entry: the first
    expect.soft(criteriaFor(spec, 5).p95LatencyMs).toBe(900);
    expect.soft(criteriaFor(spec, 24).p95LatencyMs).toBe(ANALYSIS_DEFAULTS.stepCriteria["10"].p95LatencyMs);
    expect.soft(criteriaFor(spec, 25).p95LatencyMs).toBe(500);
    expect.soft(criteriaFor(spec, 100).p95LatencyMs).toBe(300);
  });

  it.each([
    ["canary", 10, true],
    ["canary", 100, false],
    ["direct", 100, false],
    ["blue-green", 100, true],
    ["blue-green", 50, true],
  ] as const)("%s at %d%% is analysed: %s", (strategy, weight, analysed) => {
    expect(isAnalysed({ strategy }, weight)).toBe(analysed);
  });

  it("blue-green monitors its switch for at least ten minutes or four bakes, whichever is longer", () => {
    expect(specFor("staging", { bakeSeconds: 60 }).maxStepSeconds).toBe(600);
    expect(specFor("staging", { bakeSeconds: 300 }).maxStepSeconds).toBe(1200);
  });

  it("the evidence rule and the outage limit come from the config, and the emergency spec uses the configured guardrails with no gate", () => {
    const spec = specFor("production", { analysis: { minRequests: 120, metricsUnavailableLimitSeconds: 45 } });
    expect(spec.minStepRequests).toBe(120);
    expect(spec.metricsUnavailableLimitSeconds).toBe(45);
    const emergency = immediateSpec();
    expect(emergency).toMatchObject({ strategy: "direct", steps: [100], gatesBeforeTraffic: [], gatesBeforePromotion: [], minStepRequests: 0 });
    expect(emergency.analysis.guardrails).toEqual(ANALYSIS_DEFAULTS.guardrails);
    expect(criteriaFor(emergency, 100)).toEqual({ errorRate: ANALYSIS_DEFAULTS.guardrails.errorRate, p95LatencyMs: ANALYSIS_DEFAULTS.guardrails.p95LatencyMs });
    // The emergency spec is a fresh value each time: a caller changing one cannot change the next.
    emergency.analysis.guardrails.errorRate = 0.9;
    expect(immediateSpec().analysis.guardrails.errorRate).toBe(ANALYSIS_DEFAULTS.guardrails.errorRate);
  });
});
