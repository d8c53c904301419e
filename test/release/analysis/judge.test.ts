import { describe, expect, it } from "vitest";
import { describeMeasurement, judge, newEvidence, observe, type AnalysisSettings, type Evidence } from "../../../src/release/analysis/judge";
import { emptyArm } from "../../../src/release/analysis/window";
import { HEALTHY, armWindow, rng } from "../../support/synthetic";

const settings: AnalysisSettings = { alpha: 0.05, comparativeMargin: 0.1, guardrails: { errorRate: 0.05, p95LatencyMs: 2000, consecutiveHealthFailures: 3 } };
const lenient = { errorRate: 0.05, p95LatencyMs: 1000 };
// Like the proving ground's +300 ms candidate: slower, yet well inside a 1000 ms step criterion.
const slow = { ...HEALTHY, medianMs: HEALTHY.medianMs + 300, sigma: 0.2 };

describe("judge: a missing comparison is not a pass", () => {
  it("keeps a step inconclusive while stable has no latency baseline, even when the step's own criteria are met", () => {
    const rand = rng(7);
    let e: Evidence = newEvidence();
    // The candidate alone reports (stable's series lag behind): enough to meet a lenient step criterion.
    for (let i = 0; i < 10; i++) e = observe(e, { candidate: armWindow(rand, 30, slow), stable: emptyArm() }, settings, lenient);
    const v = judge(e, settings, lenient, { comparative: true });
    expect(v.outcome).toBe("inconclusive");
    if (v.outcome === "inconclusive") expect(v.waitingFor.map((m) => m.gate)).toEqual(["comparative:latency-baseline"]);
    // At 100% there is nothing to compare with, so the step criteria alone decide.
    expect(judge(e, settings, lenient, { comparative: false }).outcome).toBe("pass");
  });

  it("once stable reports, the comparison catches a +300 ms regression the lenient step criterion lets through", () => {
    const rand = rng(11);
    let e: Evidence = newEvidence();
    for (let i = 0; i < 10; i++) e = observe(e, { candidate: armWindow(rand, 30, slow), stable: emptyArm() }, settings, lenient);
    let verdict = judge(e, settings, lenient, { comparative: true });
    for (let i = 0; i < 10 && verdict.outcome !== "fail"; i++) {
      e = observe(e, { candidate: armWindow(rand, 15, slow), stable: armWindow(rand, 45, HEALTHY) }, settings, lenient);
      verdict = judge(e, settings, lenient, { comparative: true });
      expect(verdict.outcome).not.toBe("pass");
    }
    expect(verdict.outcome).toBe("fail");
    if (verdict.outcome === "fail") expect(verdict.because.gate).toBe("comparative:latency");
  });

  it("a healthy candidate passes once the comparison has its data", () => {
    const rand = rng(3);
    let e: Evidence = newEvidence();
    let verdict = judge(e, settings, lenient, { comparative: true });
    let windows = 0;
    for (; windows < 30 && verdict.outcome === "inconclusive"; windows++) {
      e = observe(e, { candidate: armWindow(rand, 15, HEALTHY), stable: armWindow(rand, 45, HEALTHY) }, settings, lenient);
      verdict = judge(e, settings, lenient, { comparative: true });
    }
    expect(verdict.outcome).toBe("pass");
    expect(e.latencyCandidateRequests).toBeGreaterThanOrEqual(20);
  });
});

describe("judge: latency counts come from the histogram alone", () => {
  it("a histogram that lags the request counter (two exporters, two scrapes) is not read as slow requests", () => {
    const rand = rng(5);
    let e: Evidence = newEvidence();
    for (let i = 0; i < 12; i++) {
      const c = armWindow(rand, 15, HEALTHY);
      const s = armWindow(rand, 45, HEALTHY);
      // The counter says 30 and 90: the histogram saw half of them so far.
      e = observe(e, { candidate: { ...c, requests: 30 }, stable: { ...s, requests: 90 } }, settings, lenient);
      const v = judge(e, settings, lenient, { comparative: true });
      expect(v.outcome).not.toBe("fail");
    }
    expect(e.candidate.slow).toBe(0);
  });

  it("requests without any latency histogram leave the latency criterion inconclusive (missing data is not a pass)", () => {
    let e: Evidence = newEvidence();
    for (let i = 0; i < 20; i++)
      e = observe(e, { candidate: { requests: 50, errors: 0, latency: [] }, stable: { requests: 150, errors: 0, latency: [] } }, settings, lenient);
    const v = judge(e, settings, lenient, { comparative: false });
    expect(v.outcome).toBe("inconclusive");
    if (v.outcome === "inconclusive") expect(v.waitingFor.map((m) => m.gate)).toEqual(["step:p95-latency"]);
  });
});

describe("judge: stable's history before the rollout", () => {
  it("fixes the latency boundary at once, so a slow candidate fails on the first windows", () => {
    const history = armWindow(rng(21), 6000, HEALTHY);
    const withHistory = newEvidence(history);
    expect(withHistory.latencyBoundaryMs).toBe(300);
    const run = (start: Evidence, seed: number) => {
      const rand = rng(seed);
      let e = start;
      for (let i = 1; i <= 30; i++) {
        e = observe(
          e,
          { candidate: armWindow(rand, 5, { ...HEALTHY, medianMs: HEALTHY.medianMs * 1.5 }), stable: armWindow(rand, 95, HEALTHY) },
          settings,
          lenient,
        );
        if (judge(e, settings, lenient, { comparative: true }).outcome === "fail") return i;
      }
      return 31; // not caught within 30 windows
    };
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const sum = (f: (s: number) => number) => seeds.map(f).reduce((a, b) => a + b, 0);
    // Fewer windows to catch the same regression than when stable's baseline must come from the rollout's own windows.
    expect(sum((s) => run(withHistory, s))).toBeLessThan(sum((s) => run(newEvidence(), s)));
  });

  it("too little history (or none) falls back to the rollout's own windows", () => {
    expect(newEvidence(armWindow(rng(1), 10, HEALTHY)).latencyBoundaryMs).toBeNull();
    expect(newEvidence({ requests: 500, errors: 0, latency: [] }).latencyBoundaryMs).toBeNull();
    expect(newEvidence().latencyBoundaryMs).toBeNull();
  });
});

describe("describeMeasurement: a rollback's message says what happened", () => {
  it("a latency regression against a stable with no slow requests reads as such, not as a 0.00× ratio", () => {
    const rand = rng(5);
    let e: Evidence = newEvidence();
    // A tight stable (everything in the fastest buckets) and a candidate 400 ms slower.
    const tight = { ...HEALTHY, medianMs: 10, sigma: 0.05 };
    for (let i = 0; i < 30; i++)
      e = observe(e, { candidate: armWindow(rand, 20, { ...tight, medianMs: 410 }), stable: armWindow(rand, 60, tight) }, settings, lenient);
    const v = judge(e, settings, lenient, { comparative: true });
    expect(v.outcome).toBe("fail");
    if (v.outcome !== "fail") return;
    const text = describeMeasurement(v.because, { guardrailMs: 2000, stepMs: 1000 });
    expect(text).not.toContain("0.00×");
    if (v.because.gate === "comparative:latency") expect(text).toContain("while stable had none that slow in the same windows");
  });
});
