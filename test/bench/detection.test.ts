import { describe, expect, it } from "vitest";
import { floorRequests } from "../../bench/detection/floor";
import { runGrid } from "../../bench/detection/grid";
import { argo } from "../../bench/detection/methods/argo";
import { flagger } from "../../bench/detection/methods/flagger";
import { mannWhitney } from "../../bench/detection/methods/kayenta";
import { checkGoals } from "../../bench/detection/report";
import { BASELINE, quantileMs, sampleArm, rng, type Window } from "../../bench/detection/streams";

/** The benchmark's rival rules and statistics, checked against their definitions. */
const windows = (perWindow: (t: number) => { requests: number; errors: number }, seconds = 600): Window[] => {
  const out: Window[] = [];
  for (let t = 10; t <= seconds; t += 10) {
    const c = perWindow(t);
    out.push({
      t,
      candidate: {
        requests: c.requests,
        errors: c.errors,
        latency: c.requests
          ? [
              { le: 100, count: c.requests },
              { le: Infinity, count: c.requests },
            ]
          : [],
      },
      baseline: {
        requests: 100,
        errors: 0,
        latency: [
          { le: 100, count: 100 },
          { le: Infinity, count: 100 },
        ],
      },
    });
  }
  return out;
};

describe("detection benchmark: the rivals behave as documented", () => {
  it("Flagger counts an interval with no values as a failed check and rolls back when failed checks reach the threshold", () => {
    const silent = windows(() => ({ requests: 0, errors: 0 }));
    expect(flagger(1).run(silent, 600)).toMatchObject({ kind: "rollback", seconds: 60 });
    expect(flagger(5).run(silent, 600)).toMatchObject({ kind: "rollback", seconds: 300 });
    const healthy = windows(() => ({ requests: 100, errors: 0 }));
    expect(flagger(1).run(healthy, 600).kind).toBe("promote");
    // 2% errors in every interval: success rate 98% < 99%.
    expect(
      flagger(1).run(
        windows(() => ({ requests: 100, errors: 2 })),
        600,
      ),
    ).toMatchObject({ kind: "rollback", seconds: 60, candidateRequests: 600 });
  });

  it("Argo pauses on an empty result (inconclusiveLimit 0) and aborts when failures exceed failureLimit", () => {
    expect(
      argo(0).run(
        windows(() => ({ requests: 0, errors: 0 })),
        600,
      ),
    ).toMatchObject({ kind: "paused", seconds: 60 });
    const bad = windows(() => ({ requests: 100, errors: 2 }));
    expect(argo(0).run(bad, 600)).toMatchObject({ kind: "rollback", seconds: 60 });
    expect(argo(2).run(bad, 600)).toMatchObject({ kind: "rollback", seconds: 180 });
  });

  it("Mann-Whitney U: clear separation is significant and directional; identical samples are not", () => {
    const low = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const high = low.map((x) => x + 20);
    const r = mannWhitney(high, low);
    expect(r.aLarger).toBe(true);
    expect(r.p).toBeLessThan(0.001);
    expect(mannWhitney(low, high).aLarger).toBe(false);
    expect(mannWhitney(low, [...low]).p).toBeGreaterThan(0.9);
    expect(mannWhitney([0, 0, 0], [0, 0, 0]).p).toBe(1);
  });

  it("the floor is the closed-form fixed-sample size (α 5% one-sided, power 80%)", () => {
    // ((1.645·√(0.001·0.999) + 0.8416·√(0.01·0.99)) / 0.009)² ≈ 227.
    expect(floorRequests({ ...BASELINE, errorRate: 0.01 })).toBe(228);
    expect(floorRequests({ ...BASELINE, errorRate: 0.002 })).toBeGreaterThan(7000);
    expect(floorRequests({ ...BASELINE, medianMs: BASELINE.medianMs * 1.5 })).toBeLessThan(floorRequests({ ...BASELINE, medianMs: BASELINE.medianMs * 1.2 }));
  });

  it("the sampled histograms follow the model (p95 of 20,000 requests within a bucket of the lognormal's)", () => {
    const arm = sampleArm(rng(3), 20_000, BASELINE);
    const under300 = arm.latency.find((b) => b.le === 300)!.count / arm.requests;
    expect(Math.abs(under300 - 0.9666)).toBeLessThan(0.01);
    expect(quantileMs(BASELINE, 0.95)).toBeCloseTo(273, 0);
  });

  it("a small grid runs end to end; our false rollback rate stays under α", () => {
    const r = runGrid({
      badRuns: 10,
      healthyRuns: 300,
      weights: [25],
      rates: [100],
      regressions: [{ id: "err-x10", label: "x10", model: { ...BASELINE, errorRate: 0.01 } }],
    });
    expect(r.scenarios).toHaveLength(6);
    expect(r.healthy.find((h) => h.method === "ours")!.falseRollbackRate).toBeLessThanOrEqual(r.alpha);
    const ours = r.scenarios.find((s) => s.method === "ours")!;
    expect(ours.missRate).toBe(0);
    expect(ours.requests.median).not.toBeNull();
    expect(checkGoals(r).alphaOk).toBe(true);
  });
});
