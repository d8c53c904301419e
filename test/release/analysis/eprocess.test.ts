import { describe, expect, it } from "vitest";
import {
  aboveLimitLogEvidence,
  belowLimitLogEvidence,
  newRatioTest,
  ratioLogEvidence,
  requestsToShowBelow,
  updateRatioTest,
} from "../../../src/release/analysis/eprocess";
import { poisson, rng } from "../../support/synthetic";

/** Runs the comparative test over `windows` windows; returns the first window index where it crossed 1/α, or -1. */
function runRatio(
  seed: number,
  theta: number,
  opts: { alpha: number; windows: number; perWindow: number; share: number; baseRate: number; theta0: number },
): number {
  const rand = rng(seed);
  let test = newRatioTest();
  for (let w = 0; w < opts.windows; w++) {
    const nc = poisson(rand, opts.perWindow * opts.share);
    const ns = poisson(rand, opts.perWindow * (1 - opts.share));
    const x = poisson(rand, nc * opts.baseRate * theta);
    const y = poisson(rand, ns * opts.baseRate);
    test = updateRatioTest(test, opts.theta0, { candidateRequests: nc, stableRequests: ns, candidateEvents: x, stableEvents: y });
    if (ratioLogEvidence(test) >= Math.log(1 / opts.alpha)) return w;
  }
  return -1;
}

describe("comparative ratio e-process", () => {
  const opts = { alpha: 0.05, windows: 60, perWindow: 400, share: 0.1, baseRate: 0.01, theta0: 1 };

  it("keeps the false-alarm rate under α even when checked after every window (no regression)", () => {
    const runs = 1500;
    let alarms = 0;
    for (let seed = 1; seed <= runs; seed++) if (runRatio(seed, 1, opts) >= 0) alarms++;
    // Ville's inequality: ≤ α in expectation; allow 3 binomial standard deviations of noise.
    expect(alarms / runs).toBeLessThanOrEqual(opts.alpha + 3 * Math.sqrt((opts.alpha * (1 - opts.alpha)) / runs));
  });

  it("detects a 3× regression quickly and almost always", () => {
    const hits = Array.from({ length: 200 }, (_, i) => runRatio(10_000 + i, 3, opts));
    expect(hits.filter((h) => h >= 0).length / hits.length).toBeGreaterThan(0.95);
    const sorted = hits.filter((h) => h >= 0).sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(15);
  });

  it("adapts to the weight changing between windows", () => {
    let test = newRatioTest();
    // Same error rate on both arms but the share moves from 5% to 50%: no evidence of regression.
    for (const share of [0.05, 0.1, 0.25, 0.5]) {
      const nc = 10_000 * share;
      const ns = 10_000 - nc;
      test = updateRatioTest(test, 1, { candidateRequests: nc, stableRequests: ns, candidateEvents: nc * 0.01, stableEvents: ns * 0.01 });
    }
    expect(ratioLogEvidence(test)).toBeLessThan(0);
  });

  it("treats a window with no traffic on one arm as no information", () => {
    const t = updateRatioTest(newRatioTest(), 1, { candidateRequests: 0, stableRequests: 100, candidateEvents: 0, stableEvents: 5 });
    expect(ratioLogEvidence(t)).toBeCloseTo(0, 12);
  });
});

describe("one-arm limit tests", () => {
  it("need about 3/limit clean requests to show a rate is below the limit at α = 0.05", () => {
    const n = requestsToShowBelow(0.01, 0.05);
    expect(n).toBeGreaterThan(300);
    expect(n).toBeLessThan(1500);
    expect(belowLimitLogEvidence(n, 0, 0.01)).toBeGreaterThanOrEqual(Math.log(20));
    expect(belowLimitLogEvidence(n - 1, 0, 0.01)).toBeLessThan(Math.log(20));
  });

  it("a rate at the limit never shows as below it", () => {
    expect(belowLimitLogEvidence(100_000, 1000, 0.01)).toBeLessThan(Math.log(20));
  });

  it("a 20% error rate trips a 5% guardrail (α share 0.0025) within about a hundred requests", () => {
    expect(aboveLimitLogEvidence(100, 20, 0.05)).toBeGreaterThan(Math.log(1 / 0.0025));
    expect(aboveLimitLogEvidence(30, 6, 0.05)).toBeLessThan(Math.log(1 / 0.0025));
    expect(aboveLimitLogEvidence(1000, 10, 0.05)).toBeLessThan(0);
  });
});
