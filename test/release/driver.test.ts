import { describe, expect, it } from "vitest";
import { decodeCheckpoint } from "../../src/release/checkpoint";
import { runRollout, type ProgressEvent, type RolloutDeps, type RolloutOptions } from "../../src/release/driver";
import type { ReleaseSpec } from "../../src/release/sequencer";
import { FakeClock, MemoryRouter, SyntheticMetrics } from "../support/fakes";
import { HEALTHY } from "../support/synthetic";

const spec: ReleaseSpec = {
  strategy: "canary",
  steps: [5, 25, 100],
  bakeSeconds: 30,
  maxStepSeconds: 900,
  onInconclusive: "rollback",
  autoRollback: true,
  analysis: { alpha: 0.05, comparativeMargin: 0.1, guardrails: { errorRate: 0.05, p95LatencyMs: 2000, consecutiveHealthFailures: 3 } },
  stepCriteria: [{ fromWeight: 0, criteria: { errorRate: 0.01, p95LatencyMs: 500 } }],
  metricsUnavailableLimitSeconds: 60,
  gatesBeforeTraffic: ["smoke"],
  gatesBeforePromotion: [],
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
    expect(decodeCheckpoint(router.checkpoint).checkpoint?.state.phase).toBe("promoted");
    expect(events.filter((e) => e.kind === "window").length).toBeGreaterThan(3);
    expect(events.find((e) => e.kind === "window" && /candidate \d+ req/.test(e.line))).toBeDefined();
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
    expect(decodeCheckpoint(router.checkpoint).checkpoint?.state.phase).toBe("rolled-back");
  });

  it("resumes from the checkpoint after the driving process died mid-rollout", async () => {
    const { router, deps, opts, clock } = setup();
    // First run dies when step 2 (25%) has been entered: the deadline is the crash.
    let calls = 0;
    const crashing: RolloutDeps = {
      ...deps,
      router: Object.assign(Object.create(router) as MemoryRouter, {
        setWeight: async (w: number, c: string) => {
          await router.setWeight(w, c);
          if (++calls === 2) throw new Error("SIGKILL");
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

  it("dry run evaluates gates but never moves traffic or writes a checkpoint", async () => {
    const { deps, opts, router } = setup();
    router.weight = 5;
    const r = await runRollout({ ...opts, dryRun: true }, deps);
    expect(["promoted", "rolled-back"]).toContain(r.phase);
    expect(router.calls).toEqual([]);
    expect(router.checkpoint).toBeNull();
  });
});
