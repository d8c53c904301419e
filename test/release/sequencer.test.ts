import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide, resume, start, type Action, type Decision, type GateName, type Observation, type ReleaseSpec, type RolloutState } from "../../src/release/sequencer";
import { HEALTHY, rng, trafficWindow, type ArmModel } from "../support/synthetic";

const canary: ReleaseSpec = {
  strategy: "canary",
  steps: [5, 10, 25, 50, 100],
  bakeSeconds: 60,
  maxStepSeconds: 1800,
  onInconclusive: "rollback",
  autoRollback: true,
  analysis: { alpha: 0.05, comparativeMargin: 0.1, guardrails: { errorRate: 0.05, p95LatencyMs: 2000, consecutiveHealthFailures: 3 } },
  stepCriteria: [
    { fromWeight: 10, criteria: { errorRate: 0.01, p95LatencyMs: 500 } },
    { fromWeight: 50, criteria: { errorRate: 0.005, p95LatencyMs: 300 } },
  ],
  metricsUnavailableLimitSeconds: 120,
  gatesBeforeTraffic: ["smoke"],
  gatesBeforePromotion: [],
};

interface Run {
  state: RolloutState;
  actions: Action[];
  weights: number[];
}

/** Drives the pure sequencer with synthetic traffic, answering gates with `gate`. */
function simulate(spec: ReleaseSpec, candidate: ArmModel, opts: { seed?: number; rps?: number; gate?: (g: GateName) => boolean; windowSeconds?: number; maxWindows?: number; interrupt?: (d: Decision, t: number) => Observation | undefined } = {}): Run {
  const rand = rng(opts.seed ?? 1);
  const rps = opts.rps ?? 100;
  const dt = opts.windowSeconds ?? 10;
  let t = 0;
  let d = start(spec, "app-v1", "app-v2", t);
  const actions: Action[] = [];
  const weights: number[] = [];
  // Like the driver: every set-weight the router carries out is reported back as "moved".
  const apply = (next: Decision) => {
    d = next;
    actions.push(...next.actions);
    for (const a of next.actions) if (a.kind === "rollback") weights.push(0);
    const move = next.actions.find((a) => a.kind === "set-weight");
    if (move?.kind === "set-weight") {
      weights.push(move.weight);
      apply(decide(spec, d.state, { kind: "moved", at: t, weight: move.weight }));
    }
  };
  apply(d);
  for (let i = 0; i < (opts.maxWindows ?? 2000) && !["promoted", "rolled-back", "rejected", "held"].includes(d.state.phase); i++) {
    const pendingGate = d.actions.find((a) => a.kind === "check-gate");
    if (pendingGate && pendingGate.kind === "check-gate") {
      apply(decide(spec, d.state, { kind: "gate", at: t, gate: pendingGate.gate, passed: opts.gate ? opts.gate(pendingGate.gate) : true, detail: "simulated" }));
      continue;
    }
    t += dt * 1000;
    const extra = opts.interrupt?.(d, t);
    if (extra) {
      apply(decide(spec, d.state, extra));
      continue;
    }
    apply(decide(spec, d.state, { kind: "metrics", at: t, window: trafficWindow(rand, rps, dt, d.state.weight, candidate, HEALTHY) }));
  }
  return { state: d.state, actions, weights };
}

describe("canary sequencing", () => {
  it("promotes a healthy candidate through every step to 100%", () => {
    const run = simulate(canary, HEALTHY);
    expect(run.state.phase).toBe("promoted");
    expect(run.weights).toEqual([5, 10, 25, 50, 100]);
    expect(run.state.records.map((r) => [r.weight, r.outcome])).toEqual([
      [5, "pass"],
      [10, "pass"],
      [25, "pass"],
      [50, "pass"],
      [100, "pass"],
    ]);
    for (const r of run.state.records.slice(0, 4)) {
      expect(r.candidateRequests).toBeGreaterThan(0);
      expect(r.endedAt! - r.startedAt).toBeGreaterThanOrEqual(canary.bakeSeconds * 1000);
    }
  });

  it("rolls a 5%-error candidate back at the first step with a message naming step, gate, value and threshold", () => {
    const run = simulate(canary, { ...HEALTHY, errorRate: 0.05 });
    expect(run.state.phase).toBe("rolled-back");
    expect(run.weights).toEqual([5, 0]);
    expect(run.actions.find((a) => a.kind === "rollback")).toBeDefined();
    const f = run.state.failure!;
    expect(f.step).toBe(1);
    expect(f.weight).toBe(5);
    expect(f.gate).toMatch(/^(comparative|guardrail):error-rate$/);
    expect(f.message).toMatch(/^step 1\/5 \(5% to app-v2\): (comparative|guardrail):error-rate: candidate error rate/);
    expect(f.message).toMatch(/vs (threshold|allowed)/);
  });

  it("rolls back a +300 ms latency regression on a latency gate", () => {
    const run = simulate(canary, { ...HEALTHY, medianMs: HEALTHY.medianMs + 300 });
    expect(run.state.phase).toBe("rolled-back");
    expect(run.state.failure!.gate).toMatch(/latency/);
  });

  it("never sends traffic to a candidate that fails its smoke test", () => {
    const run = simulate(canary, HEALTHY, { gate: (g) => g !== "smoke" });
    expect(run.state.phase).toBe("rejected");
    expect(run.weights).toEqual([]);
    expect(run.state.failure!.message).toContain("smoke gate failed before any traffic");
  });

  it("waits while metrics are missing, then rolls back after the limit, never promoting", () => {
    const run = simulate(canary, HEALTHY, { interrupt: (d, t) => (d.state.weight === 10 ? { kind: "metrics-unavailable", at: t, error: "connection refused" } : undefined) });
    expect(run.state.phase).toBe("rolled-back");
    expect(run.state.failure!.gate).toBe("metrics-unavailable");
    expect(run.weights).toEqual([5, 10, 0]);
    const downFor = Number(String(run.state.failure!.value).replace(" s", ""));
    expect(downFor).toBeGreaterThanOrEqual(canary.metricsUnavailableLimitSeconds);
  });

  it("treats empty windows as no evidence: a silent candidate times out, it is not passed", () => {
    const run = simulate(canary, HEALTHY, { rps: 0 });
    expect(run.state.phase).toBe("rolled-back");
    expect(run.state.failure!.gate).toBe("inconclusive");
    expect(run.state.failure!.message).toContain("no verdict after 1800 s with 0 candidate requests");
  });

  it("holds instead of rolling back on an inconclusive step when configured, and moves on when approved", () => {
    const spec: ReleaseSpec = { ...canary, onInconclusive: "hold" };
    let d = start(spec, "v1", "v2", 0);
    d = decide(spec, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    for (let t = 10; t <= 1810 && d.state.phase !== "held"; t += 10) d = decide(spec, d.state, { kind: "metrics", at: t * 1000, window: trafficWindow(rng(3), 0, 10, 5, HEALTHY, HEALTHY) });
    expect(d.state.phase).toBe("held");
    expect(d.actions).toContainEqual(expect.objectContaining({ kind: "await-approval" }));
    expect(d.state.weight).toBe(5);
    d = decide(spec, d.state, { kind: "approval", at: 1_900_000, approved: true, by: "alice" });
    expect(d.state.phase).toBe("analysing");
    expect(d.actions).toContainEqual({ kind: "set-weight", weight: 10, step: 1 });
  });

  it("rolls back on three consecutive failed health checks", () => {
    let d = start(canary, "v1", "v2", 0);
    d = decide(canary, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    d = decide(canary, d.state, { kind: "health", at: 1, ok: false, detail: "503" });
    d = decide(canary, d.state, { kind: "health", at: 2, ok: true, detail: "200" });
    d = decide(canary, d.state, { kind: "health", at: 3, ok: false, detail: "503" });
    d = decide(canary, d.state, { kind: "health", at: 4, ok: false, detail: "503" });
    expect(d.state.phase).toBe("analysing");
    d = decide(canary, d.state, { kind: "health", at: 5, ok: false, detail: "connection refused" });
    expect(d.state.phase).toBe("rolled-back");
    expect(d.state.failure!.message).toContain("3 consecutive failed health checks (threshold 3); last: connection refused");
  });

  it("asks for manual approval before 100% when configured", () => {
    const spec: ReleaseSpec = { ...canary, gatesBeforePromotion: ["manual-approval"] };
    const approved = simulate(spec, HEALTHY, { gate: () => true });
    expect(approved.state.phase).toBe("promoted");
    expect(approved.actions).toContainEqual({ kind: "check-gate", gate: "manual-approval" });
    const refused = simulate(spec, HEALTHY, { gate: (g) => g !== "manual-approval" });
    expect(refused.state.phase).toBe("rolled-back");
    expect(refused.weights).toEqual([5, 10, 25, 50, 0]);
  });

  it("with auto-rollback off, holds a failed rollout; it can be rejected but not approved", () => {
    const spec: ReleaseSpec = { ...canary, autoRollback: false };
    const run = simulate(spec, { ...HEALTHY, errorRate: 0.1 });
    expect(run.state.phase).toBe("held");
    let d = decide(spec, run.state, { kind: "approval", at: 1e9, approved: true, by: "bob" });
    expect(d.state.phase).toBe("held");
    d = decide(spec, d.state, { kind: "approval", at: 1e9, approved: false, by: "bob" });
    expect(d.state.phase).toBe("rolled-back");
    expect(d.actions[0]).toMatchObject({ kind: "rollback" });
  });

  it("an abort (the emergency path) returns traffic to stable at once", () => {
    const run = simulate(canary, HEALTHY, { interrupt: (d, t) => (d.state.weight === 25 ? { kind: "abort", at: t, reason: "operator" } : undefined) });
    expect(run.state.phase).toBe("rolled-back");
    expect(run.weights).toEqual([5, 10, 25, 0]);
  });
});

describe("moves the router could not make", () => {
  /** A canary whose last analysed step passed: the next decision moves to 100%. */
  const atFinalMove = () => {
    const spec: ReleaseSpec = { ...canary, steps: [50, 100], bakeSeconds: 10 };
    let d = start(spec, "v1", "v2", 0);
    d = decide(spec, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    d = decide(spec, d.state, { kind: "moved", at: 0, weight: 50 });
    const rand = rng(5);
    for (let t = 10_000; d.state.phase === "analysing"; t += 10_000) d = decide(spec, d.state, { kind: "metrics", at: t, window: trafficWindow(rand, 200, 10, d.state.weight, HEALTHY, HEALTHY) });
    return { spec, d };
  };

  it("is promoted only once the router reports the final move done", () => {
    const { spec, d } = atFinalMove();
    expect(d.state.phase).toBe("switching");
    expect(d.actions).toContainEqual({ kind: "set-weight", weight: 100, step: 1 });
    expect(d.actions.some((a) => a.kind === "done")).toBe(false);
    const done = decide(spec, d.state, { kind: "moved", at: 1e9, weight: 100 });
    expect(done.state.phase).toBe("promoted");
    expect(done.actions).toEqual([{ kind: "notify", event: "promoted" }, { kind: "done", phase: "promoted" }]);
  });

  it("a failed final move rolls back: stable is the only known-good split", () => {
    const { spec, d } = atFinalMove();
    const failed = decide(spec, d.state, { kind: "move-failed", at: 1e9, weight: 100, error: "socket reset" });
    expect(failed.state.phase).toBe("rolled-back");
    expect(failed.state.weight).toBe(0);
    expect(failed.actions[0]).toMatchObject({ kind: "rollback" });
    expect(failed.state.failure).toMatchObject({ gate: "traffic-router", weight: 100, message: "step 2/2 (100% to v2): the traffic router failed to move traffic: socket reset" });
  });

  it("a failed first move rolls back too (the move may have half happened), even with auto-rollback off", () => {
    const spec: ReleaseSpec = { ...canary, autoRollback: false };
    let d = start(spec, "v1", "v2", 0);
    d = decide(spec, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    expect(d.actions).toContainEqual({ kind: "set-weight", weight: 5, step: 0 });
    d = decide(spec, d.state, { kind: "move-failed", at: 1, weight: 5, error: "503" });
    expect(d.state.phase).toBe("rolled-back");
    expect(d.actions[0]).toMatchObject({ kind: "rollback" });
    expect(d.state.records.at(-1)?.outcome).toBe("aborted");
  });

  it("a run interrupted during the final move makes the move again on resume, and is promoted by it", () => {
    const { spec, d } = atFinalMove();
    const r = resume(spec, JSON.parse(JSON.stringify(d.state)) as RolloutState, 50, 2e9);
    expect(r.actions).toEqual([{ kind: "set-weight", weight: 100, step: 1 }]);
    expect(decide(spec, r.state, { kind: "moved", at: 2e9, weight: 100 }).state.phase).toBe("promoted");
  });
});

describe("blue-green and direct", () => {
  const blueGreen: ReleaseSpec = { ...canary, strategy: "blue-green", steps: [100], bakeSeconds: 120 };

  it("blue-green switches at once after the smoke test, bakes, then promotes", () => {
    const run = simulate(blueGreen, HEALTHY);
    expect(run.state.phase).toBe("promoted");
    expect(run.weights).toEqual([100]);
    expect(run.state.records[0]!.endedAt! - run.state.records[0]!.startedAt).toBeGreaterThanOrEqual(120_000);
  });

  it("blue-green rolls back instantly when a guardrail trips during the bake", () => {
    const run = simulate(blueGreen, { ...HEALTHY, errorRate: 0.3 });
    expect(run.state.phase).toBe("rolled-back");
    expect(run.state.failure!.gate).toBe("guardrail:error-rate");
    expect(run.weights).toEqual([100, 0]);
  });

  it("direct goes to 100% right after the smoke test", () => {
    const direct: ReleaseSpec = { ...canary, strategy: "direct", steps: [100], bakeSeconds: 0 };
    const run = simulate(direct, HEALTHY);
    expect(run.state.phase).toBe("promoted");
    expect(run.weights).toEqual([100]);
  });
});

describe("resuming after an interruption", () => {
  it.each([0, 1, 2, 3])("resumes at step %i without skipping it, and finishes", (stepIndex) => {
    // Run until the given step is entered, then "crash": the live weight lags the checkpoint by one step.
    let d = start(canary, "v1", "v2", 0);
    d = decide(canary, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    const rand = rng(7);
    let t = 0;
    while (d.state.stepIndex < stepIndex) {
      t += 10_000;
      d = decide(canary, d.state, { kind: "metrics", at: t, window: trafficWindow(rand, 100, 10, d.state.weight, HEALTHY, HEALTHY) });
    }
    const checkpoint = JSON.parse(JSON.stringify(d.state)) as RolloutState;
    const liveWeight = stepIndex === 0 ? 0 : canary.steps[stepIndex - 1]!;
    const r = resume(canary, checkpoint, liveWeight, t + 5_000);
    expect(r.actions).toEqual([{ kind: "set-weight", weight: canary.steps[stepIndex], step: stepIndex }]);
    expect(r.state.stepStartedAt).toBe(t + 5_000);
    // The step is analysed again from its start.
    expect(r.state.evidence.step.requests).toBe(0);
    let e = r;
    for (let i = 0; i < 500 && e.state.phase === "analysing"; i++) {
      t += 10_000;
      e = decide(canary, e.state, { kind: "metrics", at: t + 5_000, window: trafficWindow(rand, 100, 10, e.state.weight, HEALTHY, HEALTHY) });
      const move = e.actions.find((x) => x.kind === "set-weight");
      if (move?.kind === "set-weight") e = decide(canary, e.state, { kind: "moved", at: t + 5_000, weight: move.weight });
    }
    expect(e.state.phase).toBe("promoted");
  });

  it("re-asserts a recorded rollback and never re-promotes a rejected candidate", () => {
    const run = simulate(canary, { ...HEALTHY, errorRate: 0.2 });
    expect(run.state.phase).toBe("rolled-back");
    expect(resume(canary, run.state, 5, 1e9).actions).toEqual([{ kind: "rollback", reason: "re-asserting the rollback recorded in the checkpoint" }]);
    expect(resume(canary, run.state, 0, 1e9).actions).toEqual([]);
    expect(decide(canary, run.state, { kind: "metrics", at: 1e9, window: trafficWindow(rng(1), 100, 10, 5, HEALTHY, HEALTHY) }).state).toBe(run.state);
  });

  it("a checkpoint taken before any gate passed earns no traffic on resume", () => {
    const d = start(canary, "v1", "v2", 0);
    const r = resume(canary, d.state, 5, 10);
    expect(r.actions).toEqual([{ kind: "rollback", reason: "no traffic is earned before the gates pass" }, { kind: "check-gate", gate: "smoke" }]);
  });
});

describe("sequencer properties (any order of observations)", () => {
  const observation = fc.oneof(
    fc.record({ kind: fc.constant("metrics" as const), errorRate: fc.constantFrom(0, 0.001, 0.05, 0.5), rps: fc.constantFrom(0, 5, 200) }),
    fc.record({ kind: fc.constant("metrics-unavailable" as const) }),
    fc.record({ kind: fc.constant("health" as const), ok: fc.boolean() }),
    fc.record({ kind: fc.constant("gate" as const), gate: fc.constantFrom<GateName>("smoke", "manual-approval", "confirm-promotion"), passed: fc.boolean() }),
    fc.record({ kind: fc.constant("approval" as const), approved: fc.boolean() }),
    fc.record({ kind: fc.constant("abort" as const) }),
    fc.record({ kind: fc.constant("move" as const), ok: fc.boolean() }),
  );
  const spec: ReleaseSpec = { ...canary, bakeSeconds: 20, maxStepSeconds: 200, metricsUnavailableLimitSeconds: 60, gatesBeforePromotion: ["manual-approval"], onInconclusive: "hold" };

  it("weights only take planned values; 100% only after every earlier step passed; promoted only by a reported move to 100%; a failed move rolls back; rollbacks end at 0", () => {
    fc.assert(
      fc.property(fc.array(observation, { maxLength: 120 }), fc.integer({ min: 1, max: 1_000_000 }), (script, seed) => {
        const rand = rng(seed);
        let d = start(spec, "v1", "v2", 0);
        let t = 0;
        const weights: number[] = [];
        let lastMove = 0;
        for (const o of script) {
          t += 10_000;
          const obs: Observation =
            o.kind === "metrics"
              ? { kind: "metrics", at: t, window: trafficWindow(rand, o.rps, 10, d.state.weight, { ...HEALTHY, errorRate: o.errorRate }, HEALTHY) }
              : o.kind === "metrics-unavailable"
                ? { kind: o.kind, at: t, error: "down" }
                : o.kind === "health"
                  ? { kind: o.kind, at: t, ok: o.ok, detail: "" }
                  : o.kind === "gate"
                    ? { kind: o.kind, at: t, gate: o.gate, passed: o.passed, detail: "" }
                    : o.kind === "approval"
                      ? { kind: o.kind, at: t, approved: o.approved, by: "p" }
                      : o.kind === "move"
                        ? o.ok
                          ? { kind: "moved", at: t, weight: lastMove }
                          : { kind: "move-failed", at: t, weight: lastMove, error: "p" }
                        : { kind: "abort", at: t, reason: "p" };
          const before = d.state;
          d = decide(spec, d.state, obs);
          if (d.state.phase === "promoted" && before.phase !== "promoted") expect(obs).toEqual({ kind: "moved", at: t, weight: 100 });
          if (obs.kind === "move-failed" && !["promoted", "rolled-back", "rejected"].includes(before.phase)) expect(d.state.phase).toBe("rolled-back");
          for (const a of d.actions) {
            if (a.kind === "set-weight") {
              lastMove = a.weight;
              weights.push(a.weight);
              expect(spec.steps).toContain(a.weight);
              if (a.weight === 100) {
                const passedSteps = d.state.records.filter((r) => r.weight < 100 && (r.outcome === "pass" || r.outcome === "timeout"));
                expect(passedSteps.map((r) => r.weight)).toEqual(spec.steps.slice(0, -1));
                expect(d.state.gatesPassed).toContain("manual-approval");
              }
            }
            if (a.kind === "rollback") weights.push(0);
          }
          if (d.state.phase === "rolled-back") expect(d.state.weight).toBe(0);
          if (["promoted", "rolled-back", "rejected"].includes(before.phase)) expect(d.state).toBe(before);
        }
        // Weights never go down except to 0 (a rollback).
        for (let i = 1; i < weights.length; i++) if (weights[i] !== 0) expect(weights[i]!).toBeGreaterThan(weights[i - 1]!);
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});
