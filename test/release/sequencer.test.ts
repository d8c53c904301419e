import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide, resume, start, TERMINAL, type Action, type Decision, type Observation, type RolloutState } from "../../src/release/sequencer";
import type { GateName, ReleaseSpec } from "../../src/release/spec";
import { fromWeights, type LiveSplit } from "../../src/release/split";
import { specFor } from "../support/specs";
import { HEALTHY, rng, trafficWindow, type ArmModel } from "../support/synthetic";

/** Production's canary (5/10/25/50/100, its step criteria and guardrails) with a shorter bake and outage limit. */
const canary: ReleaseSpec = specFor("production", { bakeSeconds: 60, analysis: { metricsUnavailableLimitSeconds: 120 } });

/** The live split of a two-arm target with the candidate at `w`%. */
const liveAt = (w: number, stable = "v1", candidate = "v2"): LiveSplit =>
  fromWeights([
    { name: stable, weight: 100 - w },
    { name: candidate, weight: w },
  ]);

interface Run {
  state: RolloutState;
  actions: Action[];
  weights: number[];
}

/** Drives the pure sequencer with synthetic traffic, answering gates with `gate`. */
function simulate(
  spec: ReleaseSpec,
  candidate: ArmModel,
  opts: {
    seed?: number;
    rps?: number;
    gate?: (g: GateName) => boolean;
    windowSeconds?: number;
    maxWindows?: number;
    interrupt?: (d: Decision, t: number) => Observation | undefined;
  } = {},
): Run {
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
  for (let i = 0; i < (opts.maxWindows ?? 2000) && !TERMINAL.includes(d.state.phase) && d.state.phase !== "held"; i++) {
    const pendingGate = d.actions.find((a) => a.kind === "check-gate");
    if (pendingGate && pendingGate.kind === "check-gate") {
      apply(
        decide(spec, d.state, { kind: "gate", at: t, gate: pendingGate.gate, passed: opts.gate ? opts.gate(pendingGate.gate) : true, detail: "simulated" }),
      );
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
    const run = simulate(canary, HEALTHY, {
      interrupt: (d, t) => (d.state.weight === 10 ? { kind: "metrics-unavailable", at: t, error: "connection refused" } : undefined),
    });
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
    // Says what was missing, every item of it, never a dangling "waiting for ".
    const waiting = run.state.failure!.message.split("still waiting for ")[1]!;
    expect(waiting).toMatch(/^step:error-rate: candidate error rate 0\.000% vs threshold/);
    expect(waiting).toContain(`; at least ${canary.minStepRequests} candidate requests in the step (has 0); `);
    expect(waiting).toMatch(/; a window in which the candidate answered requests \(the last one had none\)$/);
  });

  it("holds instead of rolling back on an inconclusive step when configured, and moves on when approved", () => {
    const spec: ReleaseSpec = { ...canary, onInconclusive: "hold" };
    let d = start(spec, "v1", "v2", 0);
    d = decide(spec, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    for (let t = 10; t <= 1810 && d.state.phase !== "held"; t += 10)
      d = decide(spec, d.state, { kind: "metrics", at: t * 1000, window: trafficWindow(rng(3), 0, 10, 5, HEALTHY, HEALTHY) });
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

  it("asks for manual approval before 100% when configured: a hold at the last analysed weight, guardrails watching", () => {
    const spec: ReleaseSpec = { ...canary, gatesBeforePromotion: ["candidate-health", "manual-approval"] };
    const held = simulate(spec, HEALTHY, { gate: () => true });
    expect(held.state).toMatchObject({ phase: "held", heldFrom: "promoting", weight: 50 });
    expect(held.actions).toContainEqual(expect.objectContaining({ kind: "await-approval", reason: "manual approval before app-v2 gets 100%" }));
    const approved = decide(spec, held.state, { kind: "approval", at: 1e10, approved: true, by: "alice" });
    expect(approved.actions).toContainEqual({ kind: "set-weight", weight: 100, step: 4 });
    expect(approved.state.gatesPassed).toContain("manual-approval");
    expect(decide(spec, approved.state, { kind: "moved", at: 1e10, weight: 100 }).state.phase).toBe("promoted");
    const refused = decide(spec, held.state, { kind: "approval", at: 1e10, approved: false, by: "bob" });
    expect(refused.state.phase).toBe("rolled-back");
    expect(held.weights).toEqual([5, 10, 25, 50]);
  });

  it("a held release keeps its guardrails: a candidate that starts failing while nobody answers is rolled back, and cannot be approved", () => {
    const spec: ReleaseSpec = { ...canary, gatesBeforePromotion: ["candidate-health", "manual-approval"] };
    const held = simulate(spec, HEALTHY, { gate: () => true });
    const rand = rng(21);
    let d: Decision = { state: held.state, actions: [] };
    for (let t = 1e9; d.state.phase === "held" && t < 1e9 + 600_000; t += 10_000)
      d = decide(spec, d.state, { kind: "metrics", at: t, window: trafficWindow(rand, 200, 10, 50, { ...HEALTHY, errorRate: 0.6 }, HEALTHY) });
    expect(d.state.phase).toBe("rolled-back");
    expect(d.state.failure!.message).toMatch(/error-rate.*\(while held\)/);
    expect(d.actions[0]).toMatchObject({ kind: "rollback", mode: "immediate" });
    // Three failed health checks while held roll back too.
    let h: Decision = { state: held.state, actions: [] };
    for (let i = 1; i <= 3; i++) h = decide(spec, h.state, { kind: "health", at: 2e9 + i, ok: false, detail: "503" });
    expect(h.state.phase).toBe("rolled-back");
    // With auto-rollback off the failure stays held, and an approval can no longer promote it.
    const manual: ReleaseSpec = { ...spec, autoRollback: false };
    let m: Decision = { state: held.state, actions: [] };
    for (let i = 1; i <= 3; i++) m = decide(manual, m.state, { kind: "health", at: 3e9 + i, ok: false, detail: "503" });
    expect(m.state).toMatchObject({ phase: "held", failure: { gate: "guardrail:health" } });
    expect(decide(manual, m.state, { kind: "approval", at: 4e9, approved: true, by: "alice" }).state.phase).toBe("held");
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
    for (let t = 10_000; d.state.phase === "analysing"; t += 10_000)
      d = decide(spec, d.state, { kind: "metrics", at: t, window: trafficWindow(rand, 200, 10, d.state.weight, HEALTHY, HEALTHY) });
    // The candidate answers its health check at the moment of promotion.
    expect(d.actions).toContainEqual({ kind: "check-gate", gate: "candidate-health" });
    d = decide(spec, d.state, { kind: "gate", at: 1e8, gate: "candidate-health", passed: true, detail: "GET /health: 200" });
    return { spec, d };
  };

  it("is promoted only once the router reports the final move done", () => {
    const { spec, d } = atFinalMove();
    expect(d.state.phase).toBe("switching");
    expect(d.actions).toContainEqual({ kind: "set-weight", weight: 100, step: 1 });
    expect(d.actions.some((a) => a.kind === "done")).toBe(false);
    const done = decide(spec, d.state, { kind: "moved", at: 1e9, weight: 100 });
    expect(done.state.phase).toBe("promoted");
    expect(done.actions).toEqual([
      { kind: "notify", event: "promoted" },
      { kind: "done", phase: "promoted" },
    ]);
  });

  it("a failed final move rolls back: stable is the only known-good split", () => {
    const { spec, d } = atFinalMove();
    const failed = decide(spec, d.state, { kind: "move-failed", at: 1e9, weight: 100, error: "socket reset" });
    expect(failed.state.phase).toBe("rolled-back");
    expect(failed.state.weight).toBe(0);
    expect(failed.actions[0]).toMatchObject({ kind: "rollback" });
    expect(failed.state.failure).toMatchObject({
      gate: "traffic-router",
      weight: 100,
      message: "step 2/2 (100% to v2): the traffic router failed to move traffic: socket reset",
    });
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
    const r = resume(spec, JSON.parse(JSON.stringify(d.state)) as RolloutState, liveAt(50), 2e9);
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
    const r = resume(canary, checkpoint, liveAt(liveWeight), t + 5_000);
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
      const gate = e.actions.find((x) => x.kind === "check-gate");
      if (gate?.kind === "check-gate") e = decide(canary, e.state, { kind: "gate", at: t + 5_000, gate: gate.gate, passed: true, detail: "" });
      const last = e.actions.find((x) => x.kind === "set-weight");
      if (last?.kind === "set-weight") e = decide(canary, e.state, { kind: "moved", at: t + 5_000, weight: last.weight });
    }
    expect(e.state.phase).toBe("promoted");
  });

  it("completes a rollback the checkpoint recorded in flight, and never re-promotes a rejected candidate", () => {
    const run = simulate(canary, { ...HEALTHY, errorRate: 0.2 });
    expect(run.state.phase).toBe("rolled-back");
    // The rollback was asked for at 5%: a live split anywhere between 5% and 0% is that rollback, to be completed.
    expect(run.state.moving).toEqual({ from: 5, to: 0 });
    const live = (w: number) => liveAt(w, "app-v1", "app-v2");
    expect(resume(canary, run.state, live(5), 1e9).actions).toEqual([
      { kind: "rollback", reason: "completing the rollback recorded in the checkpoint", mode: "immediate" },
    ]);
    expect(resume(canary, run.state, live(0), 1e9).actions).toEqual([]);
    expect(decide(canary, run.state, { kind: "metrics", at: 1e9, window: trafficWindow(rng(1), 100, 10, 5, HEALTHY, HEALTHY) }).state).toBe(run.state);
    // Once the rollback was reported done, the release expects exactly 0%: a candidate at 30% is someone else's change.
    const settled = decide(canary, run.state, { kind: "moved", at: 1e9, weight: 0 }).state;
    expect(settled.moving).toBeNull();
    const drifted = resume(canary, settled, live(30), 2e9);
    expect(drifted.state.phase).toBe("interrupted");
    expect(drifted.actions.some((a) => a.kind === "rollback" || a.kind === "set-weight")).toBe(false);
  });

  it("a checkpoint taken before any gate passed, with traffic on the candidate, stops the release: nobody in it asked for that traffic", () => {
    const d = start(canary, "v1", "v2", 0);
    const r = resume(canary, d.state, liveAt(5), 10);
    expect(r.state.phase).toBe("interrupted");
    expect(r.actions.some((a) => a.kind === "rollback" || a.kind === "set-weight")).toBe(false);
    expect(r.state.failure?.message).toContain("live v1 95%, v2 5%; expected v1 100%, v2 0%");
    // On 100% stable it goes on with its gates.
    expect(resume(canary, d.state, liveAt(0), 10).actions).toEqual([{ kind: "check-gate", gate: "smoke" }]);
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
    fc.record({ kind: fc.constant("split" as const), drift: fc.boolean() }),
  );
  const spec: ReleaseSpec = {
    ...canary,
    bakeSeconds: 20,
    maxStepSeconds: 200,
    metricsUnavailableLimitSeconds: 60,
    gatesBeforePromotion: ["manual-approval"],
    onInconclusive: "hold",
  };

  it("weights only take planned values; 100% only after every earlier step passed; promoted only by a reported move to 100%; a failed move rolls back; rollbacks end at 0; a live split never moves traffic", () => {
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
                        : o.kind === "split"
                          ? {
                              kind: "split",
                              at: t,
                              live: o.drift
                                ? fromWeights([
                                    { name: "v1", weight: 50 },
                                    { name: "v2", weight: 20 },
                                    { name: "v0", weight: 30 },
                                  ])
                                : liveAt(d.state.weight),
                            }
                          : { kind: "abort", at: t, reason: "p" };
          const before = d.state;
          d = decide(spec, d.state, obs);
          if (d.state.phase === "promoted" && before.phase !== "promoted") expect(obs).toEqual({ kind: "moved", at: t, weight: 100 });
          if (obs.kind === "move-failed" && !TERMINAL.includes(before.phase)) expect(d.state.phase).toBe("rolled-back");
          if (obs.kind === "split") {
            expect(d.actions.some((a) => a.kind === "set-weight" || a.kind === "rollback")).toBe(false);
            if (!TERMINAL.includes(before.phase)) expect(d.state.phase).toBe(obs.live.arms.length === 3 ? "interrupted" : before.phase);
          }
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
          if (TERMINAL.includes(before.phase) && obs.kind !== "moved") expect(d.state).toBe(before);
        }
        // Weights never go down except to 0 (a rollback).
        for (let i = 1; i < weights.length; i++) if (weights[i] !== 0) expect(weights[i]!).toBeGreaterThan(weights[i - 1]!);
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe("the drift lock: a live split nobody in this release asked for stops it", () => {
  /** A canary at its second step (10%), moves reported. */
  const atTenPercent = () => {
    let d = start(canary, "v1", "v2", 0);
    d = decide(canary, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    d = decide(canary, d.state, { kind: "moved", at: 0, weight: 5 });
    const rand = rng(11);
    for (let t = 10_000; d.state.weight === 5; t += 10_000)
      d = decide(canary, d.state, { kind: "metrics", at: t, window: trafficWindow(rand, 200, 10, 5, HEALTHY, HEALTHY) });
    return decide(canary, d.state, { kind: "moved", at: 1e8, weight: 10 });
  };

  it("weights changed by hand mid-release: interrupted, traffic left as the person set it, both splits in the record", () => {
    const d = atTenPercent();
    expect(d.state.weight).toBe(10);
    const r = decide(canary, d.state, { kind: "split", at: 2e8, live: liveAt(40) });
    expect(r.state.phase).toBe("interrupted");
    expect(r.actions).toEqual([
      { kind: "notify", event: "interrupted" },
      { kind: "done", phase: "interrupted" },
    ]);
    expect(r.state.failure).toMatchObject({ gate: "drift", value: "v1 60%, v2 40%", threshold: "v1 90%, v2 10%" });
    expect(r.state.failure!.message).toMatch(
      /^the live split is not what this release expects at step 2\/5 \(10% to v2\): live v1 60%, v2 40%; expected v1 90%, v2 10% \(v2 carries 40%\)\. The release stops here and moves no more traffic: the split stays as it is\./,
    );
    // Nothing afterwards moves traffic again in this run.
    expect(
      decide(canary, r.state, { kind: "metrics", at: 3e8, window: trafficWindow(rng(1), 200, 10, 40, { ...HEALTHY, errorRate: 0.5 }, HEALTHY) }).actions,
    ).toEqual([]);
  });

  it("another arm with traffic (a third revision) is drift even when the two arms' ratio looks right", () => {
    const d = atTenPercent();
    const live = fromWeights([
      { name: "v1", weight: 80 },
      { name: "v2", weight: 10 },
      { name: "v0", weight: 10 },
    ]);
    const r = decide(canary, d.state, { kind: "split", at: 2e8, live });
    expect(r.state.phase).toBe("interrupted");
    expect(r.state.failure!.message).toContain("v0 carries 10%, which is neither v1 (stable) nor v2 (candidate)");
  });

  it("a move in flight accepts any split between its two ends, and nothing outside them", () => {
    let d = start(canary, "v1", "v2", 0);
    d = decide(canary, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    expect(d.state.moving).toEqual({ from: 0, to: 5 });
    for (const w of [0, 3, 5]) expect(decide(canary, d.state, { kind: "split", at: 1, live: liveAt(w) }).state.phase).toBe("analysing");
    expect(decide(canary, d.state, { kind: "split", at: 1, live: liveAt(6) }).state.phase).toBe("interrupted");
  });
});

describe("the evidence rule: no promotion without evidence", () => {
  it("blue-green does not promote on elapsed time alone: a bake with no requests rolls back as inconclusive", () => {
    const blueGreen: ReleaseSpec = { ...canary, strategy: "blue-green", steps: [100], bakeSeconds: 120, maxStepSeconds: 600 };
    const run = simulate(blueGreen, HEALTHY, { rps: 0 });
    expect(run.state.phase).toBe("rolled-back");
    expect(run.state.failure!.gate).toBe("inconclusive");
    expect(run.state.failure!.message).toContain(`at least ${canary.minStepRequests} candidate requests in the step (has 0)`);
  });

  it("blue-green's bake needs the minimum request count even when the criteria look met", () => {
    const blueGreen: ReleaseSpec = { ...canary, strategy: "blue-green", steps: [100], bakeSeconds: 60, maxStepSeconds: 600, minStepRequests: 5000 };
    // 100 req/s for 600 s is 60,000 requests: promoted, but never before the 5,000th request.
    const run = simulate(blueGreen, HEALTHY, { rps: 100 });
    expect(run.state.phase).toBe("promoted");
    expect(run.state.records[0]!.candidateRequests).toBeGreaterThanOrEqual(5000);
  });

  it("a candidate that dies late in a step is not promoted: the passing window must show it answering", () => {
    const spec: ReleaseSpec = { ...canary, steps: [50, 100], bakeSeconds: 60 };
    let d = start(spec, "v1", "v2", 0);
    d = decide(spec, d.state, { kind: "gate", at: 0, gate: "smoke", passed: true, detail: "" });
    d = decide(spec, d.state, { kind: "moved", at: 0, weight: 50 });
    const rand = rng(3);
    // 40 s of healthy traffic: evidence enough for the criteria, the bake not yet served.
    for (let t = 10_000; t <= 40_000; t += 10_000)
      d = decide(spec, d.state, { kind: "metrics", at: t, window: trafficWindow(rand, 200, 10, 50, HEALTHY, HEALTHY) });
    expect(d.state.phase).toBe("analysing");
    // Then the candidate dies: its windows are empty (the proxy sends its requests elsewhere or counts nothing).
    for (let t = 50_000; t <= 300_000 && d.state.phase === "analysing"; t += 10_000) {
      const w = trafficWindow(rand, 200, 10, 50, HEALTHY, HEALTHY);
      d = decide(spec, d.state, { kind: "metrics", at: t, window: { candidate: { requests: 0, errors: 0, latency: [] }, stable: w.stable } });
      expect(d.actions.some((a) => a.kind === "set-weight" || a.kind === "check-gate")).toBe(false);
    }
    expect(d.state.phase).toBe("analysing");
    expect(d.state.records.at(-1)!.outcome).toBeUndefined();
  });

  it("a failed health check at the moment of promotion rolls back at once (immediate)", () => {
    const run = simulate(canary, HEALTHY, { gate: (g) => g !== "candidate-health" });
    expect(run.state.phase).toBe("rolled-back");
    expect(run.state.failure).toMatchObject({ gate: "candidate-health" });
    expect(run.weights).toEqual([5, 10, 25, 50, 0]);
    expect(run.actions.find((a) => a.kind === "rollback")).toMatchObject({ mode: "immediate" });
  });

  it("blue-green checks the candidate's health after its bake, before it is promoted", () => {
    const blueGreen: ReleaseSpec = { ...canary, strategy: "blue-green", steps: [100], bakeSeconds: 60 };
    let healthChecks = 0;
    const run = simulate(blueGreen, HEALTHY, { gate: (g) => (g === "candidate-health" ? ++healthChecks < 2 : true) });
    // Once before the switch (a promotion gate), once after the bake: the second answer fails.
    expect(healthChecks).toBe(2);
    expect(run.state.phase).toBe("rolled-back");
    expect(run.weights).toEqual([100, 0]);
  });
});

describe("holds and rollback paths", () => {
  it("a hold nobody answers rolls back when the approval source's time runs out", () => {
    const spec: ReleaseSpec = { ...canary, onInconclusive: "hold" };
    const run = simulate(spec, HEALTHY, { rps: 0 });
    expect(run.state.phase).toBe("held");
    const r = decide(spec, run.state, { kind: "approval-timeout", at: 1e10, waitedSeconds: 900 });
    expect(r.state.phase).toBe("rolled-back");
    expect(r.actions[0]).toMatchObject({ kind: "rollback", mode: "drain" });
    expect(r.state.failure!.message).toContain("no approval within 900 s");
  });

  it("a statistical regression within the guardrails drains; a guardrail breach closes at once", () => {
    // +25% errors over stable's 1%: the comparison fails long before the 5% guardrail.
    const statistical = simulate(canary, { ...HEALTHY, errorRate: 0.012 }, { seed: 4 });
    const stats = simulate({ ...canary, analysis: { ...canary.analysis, comparativeMargin: 0 } }, { ...HEALTHY, errorRate: 0.004 }, { seed: 9, rps: 400 });
    const guardrail = simulate(canary, { ...HEALTHY, errorRate: 0.3 });
    expect(guardrail.state.failure!.gate).toMatch(/^guardrail:/);
    expect(guardrail.actions.find((a) => a.kind === "rollback")).toMatchObject({ mode: "immediate" });
    const comparative = [statistical, stats].find((r) => r.state.failure?.gate.startsWith("comparative:"));
    expect(comparative, JSON.stringify([statistical.state.failure, stats.state.failure])).toBeDefined();
    expect(comparative!.actions.find((a) => a.kind === "rollback")).toMatchObject({ mode: "drain" });
  });
});
