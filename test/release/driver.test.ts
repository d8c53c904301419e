import { describe, expect, it } from "vitest";
import { decodeCheckpoint, type Checkpoint } from "../../src/release/checkpoint";
import { runRollout, systemClock, type ProgressEvent, type RolloutDeps, type RolloutOptions } from "../../src/release/driver";
import type { ReleaseSpec } from "../../src/release/spec";
import { FakeClock, MemoryRouter, SyntheticMetrics } from "../support/fakes";
import { specFor } from "../support/specs";
import { HEALTHY } from "../support/synthetic";

/** Production's canary shortened to 5/25/100 with the first criteria from 0%, a 30 s bake and a 60 s outage limit. */
const spec: ReleaseSpec = specFor("production", {
  steps: [5, 25, 100],
  bakeSeconds: 30,
  maxStepSeconds: 900,
  analysis: { stepCriteria: { "0": { errorRate: 0.01, p95LatencyMs: 500 } }, metricsUnavailableLimitSeconds: 60 },
});
const checkpointOf = (router: MemoryRouter): Checkpoint | null => {
  const d = decodeCheckpoint(router.checkpoint, { target: router.target, steps: spec.steps });
  return d.kind === "ok" ? d.checkpoint : null;
};

function setup(candidate = HEALTHY, extra: Partial<RolloutDeps> = {}) {
  const clock = new FakeClock();
  const router = new MemoryRouter();
  const metrics = new SyntheticMetrics(router, candidate, 200);
  const events: ProgressEvent[] = [];
  const deps: RolloutDeps = { router, metrics, clock, log: (e) => events.push(e), runGate: async () => ({ passed: true, detail: "ok" }), ...extra };
  const opts: RolloutOptions = { spec, stable: "v1", candidate: "v2", releaseKey: "v1->v2", intervalMs: 10_000, deadlineMs: 3_600_000 };
  return { clock, router, metrics, events, deps, opts };
}

/** The router goes away when it is first asked to move traffic to `weight`, for `ms` of the fake clock. */
function outageOnMoveTo(router: MemoryRouter, clock: FakeClock, weight: number, ms: number) {
  let ends: number | undefined;
  router.down = (call, w) => {
    if (call === "setWeight" && w === weight && ends === undefined) ends = clock.now() + ms;
    return ends !== undefined && clock.now() < ends;
  };
}

describe("rollout driver (fake clock, memory router, synthetic metrics)", () => {
  it("promotes a healthy candidate, checkpointing every step on the target", async () => {
    const { router, deps, opts, events } = setup();
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("promoted");
    expect(router.calls).toEqual(["prepare", "set 5", "set 25", "set 100"]);
    expect(checkpointOf(router)?.state.phase).toBe("promoted");
    expect(events.filter((e) => e.kind === "window").length).toBeGreaterThan(3);
    expect(events.find((e) => e.kind === "window" && /candidate \d+ req/.test(e.line))).toBeDefined();
  });

  it("a write the adapter retries (lost on the way, or landed with its answer lost) is still this engine's: no false takeover", async () => {
    const { router, deps, opts } = setup();
    router.failedWrites = ["lost", "landed", "lost"];
    const r = await runRollout(opts, deps);
    expect(r.phase, r.message).toBe("promoted");
    expect(router.calls.filter((c) => c.startsWith("write"))).toEqual(["write lost, retried", "write landed, retried", "write lost, retried"]);
    expect(router.weight).toBe(100);
  });

  it("a checkpoint removed by someone else mid-release is not taken for the empty start: the engine stops, moving nothing more", async () => {
    const { router, deps, opts } = setup();
    const move = router.setWeight.bind(router);
    router.setWeight = async (weight, w) => {
      await move(weight, w);
      if (weight === 5) router.checkpoint = null;
    };
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("interrupted");
    expect(r.message).toContain("changed by someone else since this engine read it");
    expect(router.calls.filter((c) => c.startsWith("set"))).toEqual(["set 5"]);
  });

  it("a failing candidate whose rollback write is retried is still rolled back to stable", async () => {
    const { router, deps, opts } = setup({ ...HEALTHY, errorRate: 0.08 });
    // Every write up to the first move goes through; the rollback's first attempts fail after the guard.
    const move = router.setWeight.bind(router);
    router.setWeight = async (weight, w) => {
      await move(weight, w);
      router.failedWrites = ["lost", "landed"];
    };
    const r = await runRollout(opts, deps);
    expect(r.phase, r.message).toBe("rolled-back");
    expect(router.weight).toBe(0);
    expect(router.calls).toContain("write landed, retried");
  });

  it("rolls a bad candidate back, measures the restore time and does not retry it on the next run", async () => {
    const { router, deps, opts } = setup({ ...HEALTHY, errorRate: 0.08 });
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("rolled-back");
    expect(router.weight).toBe(0);
    expect(r.restoreMs).not.toBeNull();
    expect(r.message).toMatch(/^v2 rolled-back: step 1\/3 \(5% to v2\)/);
    const again = await runRollout(opts, deps);
    expect(again.alreadyDecided).toBe(true);
    expect(again.message).toContain("change the candidate or set a retry token");
    expect(router.calls.filter((c) => c.startsWith("set"))).toEqual(["set 5"]);
    // A retry token makes it a new release.
    const retried = await runRollout({ ...opts, releaseKey: "v1->v2#retry-1" }, deps);
    expect(retried.alreadyDecided).toBe(false);
  });

  it("a router that fails mid-step (after its retries) is turned into a rollback that waits for the router to come back", async () => {
    const { router, deps, opts, clock, events } = setup();
    outageOnMoveTo(router, clock, 25, 45_000);
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("rolled-back");
    expect(r.message).toMatch(/step 2\/3 \(25% to v2\): the traffic router failed to move traffic: setWeight: router unreachable/);
    // Restoring kept trying through the outage, then put 100% back on stable.
    expect(router.calls.filter((c) => c === "rollback failed").length).toBeGreaterThan(2);
    expect(router.calls.at(-1)).toBe("rollback");
    expect(router.weight).toBe(0);
    expect(events.some((e) => e.kind === "info" && /restoring stable failed \(attempt 1\)/.test(e.message))).toBe(true);
  });

  // The first move may have half happened; a failed final move is not a promotion.
  it.each([
    [5, "step 1/3 (5% to v2)"],
    [100, "step 3/3 (100% to v2)"],
  ])("a failed move to %i%% (first or final) still restores stable", async (weight, where) => {
    const { router, deps, opts, clock } = setup();
    outageOnMoveTo(router, clock, weight, 30_000);
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("rolled-back");
    expect(r.message).toContain(`${where}: the traffic router failed to move traffic`);
    expect(router.calls.at(-1)).toBe("rollback");
    expect(router.weight).toBe(0);
    expect(checkpointOf(router)?.state.phase).toBe("rolled-back");
  });

  it("resumes from the checkpoint after the driving process died mid-rollout", async () => {
    const { router, deps, opts, clock } = setup();
    // First run dies when step 2 (25%) has been entered: the deadline is the crash.
    let calls = 0;
    const crashing: RolloutDeps = {
      ...deps,
      // The same router (its state shared), but the second move's call dies after the move is made.
      router: new Proxy(router, {
        get: (target, key) => {
          if (key === "setWeight")
            return async (w: number, c: Parameters<MemoryRouter["setWeight"]>[1]) => {
              await target.setWeight(w, c);
              if (++calls === 2) throw new Error("SIGKILL");
            };
          const v = Reflect.get(target, key) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }),
    };
    await expect(runRollout(opts, crashing)).rejects.toThrow("SIGKILL");
    expect(router.weight).toBe(25);
    clock.t += 60_000;
    const r = await runRollout(opts, deps);
    expect(r.resumed).toBe(true);
    expect(r.phase).toBe("promoted");
    // Step 2 was analysed again from its start before 100%.
    const records = r.state.records.map((x) => [x.weight, x.outcome]);
    expect(records).toContainEqual([25, "pass"]);
    expect(router.calls.slice(-1)).toEqual(["set 100"]);
    // The step analysed twice (before and after the crash) counts once.
    expect(r.message).toBe(`v2 promoted to 100% after ${spec.steps.length} step(s)`);
  });

  it("rolls back when metrics stay unavailable past the limit", async () => {
    const { deps, opts, metrics, router } = setup();
    metrics.down = true;
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("rolled-back");
    expect(r.state.failure?.gate).toBe("metrics-unavailable");
    expect(router.weight).toBe(0);
  });

  it("stops at its own deadline by rolling back", async () => {
    const { deps, opts } = setup(HEALTHY);
    const r = await runRollout({ ...opts, deadlineMs: 20_000 }, deps);
    expect(r.phase).toBe("rolled-back");
    expect(r.state.failure?.message).toContain("deadline of 20 s passed");
  });
});

describe("the drift lock and the checkpoint, through the driver", () => {
  it("a new release whose stable is not what serves (a typo, an old config) moves nothing and writes nothing", async () => {
    const { router, deps, opts, events } = setup();
    const r = await runRollout({ ...opts, stable: "v9", releaseKey: "v9->v2" }, deps);
    expect(r.phase).toBe("interrupted");
    expect(r.message).toMatch(/live v2 0%, v1 100%; expected v9 100%, v2 0% \(v1 carries 100%, which is neither v9 \(stable\) nor v2 \(candidate\)\)/);
    expect(r.message).toContain("fix the stable version");
    expect(router.calls).toEqual([]);
    expect(router.checkpoint).toBeNull();
    expect(events.some((e) => e.kind === "weight")).toBe(false);
  });

  it("another revision carrying traffic is never dropped or moved: the release refuses to start", async () => {
    const { router, deps, opts } = setup();
    router.t.weights = { v1: 90, v2: 0, v0: 10 };
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("interrupted");
    expect(r.message).toContain("v0 carries 10%");
    expect(router.t.weights).toEqual({ v1: 90, v2: 0, v0: 10 });
    expect(router.calls).toEqual([]);
  });

  it("weights changed by hand mid-release stop it: the person's split stays, the record says interrupted with both splits", async () => {
    const { router, deps, opts } = setup();
    // A person sets 40% on the candidate while the engine is at step 2 (25%).
    const setWeight = router.setWeight.bind(router);
    router.setWeight = async (w, c) => {
      await setWeight(w, c);
      if (w === 25) router.weight = 40;
    };
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("interrupted");
    expect(router.weight).toBe(40);
    expect(router.calls.filter((c) => c.startsWith("set") || c.startsWith("rollback"))).toEqual(["set 5", "set 25"]);
    expect(checkpointOf(router)?.state).toMatchObject({
      phase: "interrupted",
      failure: { gate: "drift", value: "v1 60%, v2 40%", threshold: "v1 75%, v2 25%" },
    });
    // The next run of the same release starts afresh and refuses again while the split is the person's.
    const again = await runRollout(opts, deps);
    expect(again.phase).toBe("interrupted");
    expect(again.message).toContain("before any traffic moved");
    expect(router.weight).toBe(40);
  });

  it("a malformed checkpoint is refused with a message, not ignored", async () => {
    const { router, deps, opts } = setup();
    router.checkpoint = '{"format":"progressive-delivery/checkpoint@2","releaseKey":"v1->v2","state":{"phase":"promoted"}}';
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("interrupted");
    expect(r.message).toMatch(/the checkpoint on memory:router cannot be read: .*target/);
    expect(router.calls).toEqual([]);
  });

  it("a promoted checkpoint of this release never jumps to 100% when the live split says otherwise", async () => {
    const first = setup();
    await runRollout(first.opts, first.deps);
    expect(first.router.weight).toBe(100);
    // Someone put 100% back on stable by hand; the checkpoint still says promoted.
    first.router.weight = 0;
    const r = await runRollout(first.opts, first.deps);
    expect(r.phase).toBe("interrupted");
    expect(first.router.weight).toBe(0);
    expect(first.router.calls.filter((c) => c === "set 100")).toHaveLength(1);
  });

  it("a checkpoint of this release key from another target (or with other revisions) is foreign: refused", async () => {
    const a = setup();
    await runRollout({ ...a.opts, deadlineMs: 20_000 }, a.deps);
    const text = a.router.checkpoint!.replace('"target":"memory:router"', '"target":"memory:elsewhere"');
    const b = setup();
    b.router.checkpoint = text;
    const r = await runRollout(b.opts, b.deps);
    expect(r.phase).toBe("interrupted");
    expect(r.message).toContain("belongs to another target (memory:elsewhere)");
  });

  it("reads a schema-1 checkpoint and resumes it at its step", async () => {
    const { router, deps, opts, clock, events } = setup();
    const state = {
      schema: 1,
      stable: "v1",
      candidate: "v2",
      phase: "analysing",
      stepIndex: 1,
      weight: 25,
      gateIndex: 0,
      stepStartedAt: clock.t,
      startedAt: clock.t,
      updatedAt: clock.t,
      unavailableSince: null,
      healthFailures: 0,
      heldFrom: null,
      evidence: {
        errors: { logLr: [0], candidateEvents: 0, stableEvents: 0 },
        latency: { logLr: [0], candidateEvents: 0, stableEvents: 0 },
        latencyBoundaryMs: null,
        stableLatencySoFar: null,
        candidate: { requests: 0, errors: 0, slow: 0 },
        stable: { requests: 0, errors: 0 },
        step: { requests: 0, errors: 0, slow: 0, stableRequests: 0 },
      },
      records: [{ step: 0, weight: 5, startedAt: clock.t, endedAt: clock.t, outcome: "pass", candidateRequests: 300, stableRequests: 5000, measurements: [] }],
      failure: null,
      gatesPassed: ["smoke"],
    };
    router.checkpoint = JSON.stringify({ format: "progressive-delivery/checkpoint@1", releaseKey: "v1->v2", state });
    router.weight = 25;
    const r = await runRollout(opts, deps);
    expect(r.resumed).toBe(true);
    expect(r.phase).toBe("promoted");
    expect(router.calls).toEqual(["set 100"]);
    expect(events.some((e) => e.kind === "info" && /schema-1 checkpoint/.test(e.message))).toBe(true);
    expect(checkpointOf(router)?.format).toBe("progressive-delivery/checkpoint@2");
  });

  it("redeploying a release this target promoted (a rollback to a prior state) moves nothing when it still serves", async () => {
    const a = setup();
    expect((await runRollout(a.opts, a.deps)).phase).toBe("promoted");
    // Release B (candidate v1 over v2) is rejected by its smoke test before any traffic.
    const bRouter = new MemoryRouter("v2", "v1", a.router.t);
    const b = await runRollout(
      { ...a.opts, stable: "v2", candidate: "v1", releaseKey: "v2->v1" },
      { ...a.deps, router: bRouter, runGate: async (g) => ({ passed: g !== "smoke", detail: "503" }) },
    );
    expect(b.phase).toBe("rejected");
    expect(a.router.t.weights).toEqual({ v1: 0, v2: 100 });
    const callsBefore = a.router.calls.length;
    // The rollback command redeploys A's config: stable v1, candidate v2.
    const again = await runRollout(a.opts, a.deps);
    expect(again.phase).toBe("promoted");
    expect(again.alreadyDecided).toBe(true);
    expect(again.message).toContain("no traffic was moved");
    expect(a.router.calls.slice(callsBefore)).toEqual([]);
    expect(a.router.t.weights).toEqual({ v1: 0, v2: 100 });
  });
});

describe("one release, one engine", () => {
  /** Real time, short intervals: two engines interleave for real. */
  function live(candidate = HEALTHY, router = new MemoryRouter()) {
    const metrics = new SyntheticMetrics(router, candidate, 4000);
    const events: ProgressEvent[] = [];
    const deps: RolloutDeps = { router, metrics, clock: systemClock, log: (e) => events.push(e), runGate: async () => ({ passed: true, detail: "ok" }) };
    const fast = specFor("production", {
      steps: [5, 25, 100],
      bakeSeconds: 1,
      maxStepSeconds: 30,
      analysis: { stepCriteria: { "0": { errorRate: 0.05, p95LatencyMs: 2000 } }, metricsUnavailableLimitSeconds: 5 },
    });
    const opts: RolloutOptions = { spec: fast, stable: "v1", candidate: "v2", releaseKey: "v1->v2", intervalMs: 50, deadlineMs: 60_000, leaseMs: 600 };
    return { router, deps, opts, events };
  }

  it("a second engine on a release another live engine holds waits, then gives up without moving traffic", async () => {
    const a = live();
    const b = { ...live(HEALTHY, a.router) };
    const runA = runRollout(a.opts, a.deps);
    await new Promise((r) => setTimeout(r, 150));
    const rb = await runRollout(b.opts, { ...b.deps, router: a.router });
    const ra = await runA;
    expect(ra.phase).toBe("promoted");
    expect(rb.phase).toBe("interrupted");
    expect(rb.message).toMatch(/engine [0-9a-f-]+ \(pid \d+ on .*\) holds release v1->v2 until .*; gave up waiting/);
    // Every move came from A, in order.
    expect(a.router.calls.filter((c) => c.startsWith("set"))).toEqual(["set 5", "set 25", "set 100"]);
  }, 30_000);

  it("an engine whose lease another engine took over stops at its next write: it never undoes the other's rollback", async () => {
    const router = new MemoryRouter();
    const a = live(HEALTHY, router);
    // A stalls for 1.5 s inside its first health check after the first move (a paused process): its 600 ms lease runs out.
    let stalled = false;
    const runA = runRollout(a.opts, {
      ...a.deps,
      health: async () => {
        if (!stalled && router.weight === 5) {
          stalled = true;
          await new Promise((r) => setTimeout(r, 1500));
        }
        return { ok: true, detail: "200" };
      },
    });
    while (!stalled) await new Promise((r) => setTimeout(r, 10));
    // B takes the release over (A's lease ran out), sees a bad candidate and rolls back.
    const b = live({ ...HEALTHY, errorRate: 0.4 }, router);
    const rb = await runRollout(b.opts, b.deps);
    expect(rb.resumed).toBe(true);
    expect(rb.phase).toBe("rolled-back");
    const ra = await runA;
    expect(ra.phase).toBe("interrupted");
    expect(ra.message).toContain("changed by someone else since this engine read it");
    expect(router.weight).toBe(0);
    // B's rollback was the last move: A never set 25% after it.
    expect(router.calls.filter((c) => c.startsWith("set") || c.startsWith("rollback"))).toEqual(["set 5", expect.stringMatching(/^rollback/)]);
  }, 30_000);
});

describe("holds, health and progress", () => {
  it("a hold asks the approval source until it answers; a rejection rolls back", async () => {
    const { router, deps, opts } = setup(HEALTHY);
    let polls = 0;
    const held: ReleaseSpec = { ...spec, onInconclusive: "hold", maxStepSeconds: 60, bakeSeconds: 30 };
    // 1 req/s: the first step (5%) cannot be concluded in 60 s, so it is held.
    const slow = new SyntheticMetrics(router, HEALTHY, 1);
    const r = await runRollout(
      { ...opts, spec: held, approvalWaitMs: 3_600_000 },
      { ...deps, metrics: slow, approval: async () => (++polls < 4 ? undefined : { approved: false, by: "alice" }) },
    );
    expect(polls).toBe(4);
    expect(r.phase).toBe("rolled-back");
    expect(r.state.failure!.message).toBe("rejected by alice");
    expect(router.weight).toBe(0);
  });

  it("a hold with no answer within the approval time is rolled back, never left at a partial weight", async () => {
    const { router, deps, opts } = setup(HEALTHY);
    const held: ReleaseSpec = { ...spec, onInconclusive: "hold", maxStepSeconds: 60 };
    const r = await runRollout(
      { ...opts, spec: held, approvalWaitMs: 120_000 },
      { ...deps, metrics: new SyntheticMetrics(router, HEALTHY, 1), approval: async () => undefined },
    );
    expect(r.phase).toBe("rolled-back");
    expect(r.state.failure!.message).toContain("no approval within 120 s");
    expect(router.weight).toBe(0);
  });

  it("health is checked several times per metrics interval: three failures roll back within one 15 s interval, each printed", async () => {
    const { router, deps, opts, events, clock } = setup(HEALTHY);
    let failing = false;
    const setWeight = router.setWeight.bind(router);
    let failedAt = 0;
    router.setWeight = async (w, c) => {
      await setWeight(w, c);
      if (w === 5) {
        failing = true;
        failedAt = clock.now();
      }
    };
    const r = await runRollout(
      { ...opts, intervalMs: 15_000, healthIntervalMs: 3_000 },
      { ...deps, health: async () => (failing ? { ok: false, detail: "connection refused" } : { ok: true, detail: "200" }) },
    );
    expect(r.phase).toBe("rolled-back");
    expect(r.state.failure!.gate).toBe("guardrail:health");
    expect(r.state.updatedAt - failedAt).toBeLessThanOrEqual(9_000);
    expect(events.filter((e) => e.kind === "health").map((e) => e.kind === "health" && e.failures)).toEqual([1, 2, 3]);
  });

  it("prints every interval the metrics are unavailable", async () => {
    const { deps, opts, metrics, events } = setup();
    metrics.down = true;
    await runRollout(opts, deps);
    const down = events.filter((e) => e.kind === "metrics-unavailable");
    expect(down.length).toBeGreaterThanOrEqual(6);
    expect(down.at(-1)).toMatchObject({ kind: "metrics-unavailable", error: "synthetic outage" });
  });
});

describe("what an outside tester broke (each now refused or rolled back)", () => {
  it("a third arm with a sliver of traffic is someone else's: refused at the start, before the engine's own rescaling could grow it", async () => {
    const { router, deps, opts } = setup();
    router.t.weights = { v1: 256, v2: 0, v0: 1 };
    const r = await runRollout(opts, deps);
    expect(r.phase).toBe("interrupted");
    expect(r.message).toContain("v0 carries 0.4%");
    expect(router.calls).toEqual([]);
    expect(router.t.weights).toEqual({ v1: 256, v2: 0, v0: 1 });
  });

  it.each([
    [
      "a switching checkpoint whose move starts from 0%, not from the last step",
      { phase: "switching", stepIndex: 2, weight: 100, moving: { from: 0, to: 100 } },
      /with a move from 0% to 100%, not the move to 100%/,
    ],
    [
      "a switching checkpoint without its gates passed",
      { phase: "switching", stepIndex: 2, weight: 100, moving: { from: 25, to: 100 }, gatesPassed: [] },
      /without gates smoke, candidate-health passed/,
    ],
    [
      "an analysing checkpoint at step 3 with no record of the steps before it",
      { phase: "analysing", stepIndex: 1, weight: 25, moving: null, records: [] },
      /no record of step 1 \(5%\) passing/,
    ],
  ])("a forged or inconsistent checkpoint never skips gates or steps: %s", async (_name, patch, message) => {
    const a = setup();
    // A genuine checkpoint at step 2, then edited.
    const setWeight = a.router.setWeight.bind(a.router);
    a.router.setWeight = async (w, c) => {
      await setWeight(w, c);
      if (w === 25) throw new Error("SIGKILL");
    };
    await expect(runRollout(a.opts, a.deps)).rejects.toThrow("SIGKILL");
    const c = JSON.parse(a.router.checkpoint!) as { state: Record<string, unknown>; owner: { pid: number } };
    Object.assign(c.state, { gatesPassed: ["smoke", "candidate-health"], ...patch });
    c.owner.pid = 999_999_999; // a dead owner: nothing waits for it
    a.router.checkpoint = JSON.stringify(c);
    a.router.weight = 0;
    a.router.setWeight = setWeight;
    const calls = a.router.calls.length;
    const r = await runRollout(a.opts, a.deps);
    expect(r.phase).toBe("interrupted");
    expect(r.message).toMatch(message);
    expect(a.router.calls.slice(calls)).toEqual([]);
    expect(a.router.weight).toBe(0);
  });

  it("an approval left from an earlier attempt at the same slots (blue->green again) does not approve the next one", async () => {
    const held: ReleaseSpec = { ...spec, gatesBeforePromotion: ["candidate-health", "manual-approval"] };
    const answers: string[] = [];
    const first = setup();
    // The first attempt is approved by whoever answers for its attempt id.
    const approveAttempt = (id: string) => async (attempt: string) => (answers.push(attempt), attempt === id ? { approved: true, by: "alice" } : undefined);
    let firstAttempt = "";
    const r1 = await runRollout(
      { ...first.opts, spec: held, approvalWaitMs: 60_000 },
      { ...first.deps, approval: async (attempt) => ((firstAttempt = attempt), { approved: true, by: "alice" }) },
    );
    expect(r1.phase).toBe("promoted");
    expect(firstAttempt).toMatch(/^v1->v2@\d{4}-\d\d-\d\dT/);
    // v2 -> v1 and back again: the same release key, a new attempt; the old answer still stands at the source.
    const back = new MemoryRouter("v2", "v1", first.router.t);
    await runRollout(
      { ...first.opts, spec: held, stable: "v2", candidate: "v1", releaseKey: "v2->v1", approvalWaitMs: 60_000 },
      { ...first.deps, router: back, metrics: new SyntheticMetrics(back, HEALTHY, 200), approval: async () => ({ approved: true, by: "bob" }) },
    );
    first.clock.t += 3_600_000;
    const again = await runRollout({ ...first.opts, spec: held, approvalWaitMs: 120_000 }, { ...first.deps, approval: approveAttempt(firstAttempt) });
    expect(again.phase).toBe("rolled-back");
    expect(again.state.failure!.message).toContain("no approval within 120 s");
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((a) => a !== firstAttempt)).toBe(true);
  });

  it("while waiting for a manual approval the guardrails watch: a candidate that starts failing is rolled back before anyone answers", async () => {
    const held: ReleaseSpec = { ...spec, gatesBeforePromotion: ["candidate-health", "manual-approval"] };
    const { router, deps, opts, clock } = setup();
    let failingSince = 0;
    const bad = new SyntheticMetrics(router, { ...HEALTHY, errorRate: 0.6 }, 200);
    const good = deps.metrics;
    let asked = 0;
    const r = await runRollout(
      { ...opts, spec: held, approvalWaitMs: 3_600_000 },
      {
        ...deps,
        metrics: { description: "switching", read: (c, s, at) => (failingSince ? bad : good).read(c, s, at), readArm: (rev, at) => good.readArm(rev, at) },
        approval: async () => {
          asked++;
          failingSince ||= clock.now();
          // The answer would come an hour later.
          return clock.now() - failingSince > 3_600_000 ? { approved: true, by: "late" } : undefined;
        },
      },
    );
    expect(asked).toBeGreaterThan(0);
    expect(r.phase).toBe("rolled-back");
    expect(r.state.failure!.message).toMatch(/\(while held\)/);
    expect(router.weight).toBe(0);
    expect(router.calls).not.toContain("set 100");
  });
});
