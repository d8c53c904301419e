import { describe, expect, it } from "vitest";
import { RpcError } from "../../support/providerHost";
import { provingGroundRelease, withProvingGround } from "../../support/provingGround";

/**
 * The TrafficSplit provider as the engine runs it: the `__provider` text the
 * SDK really serializes, loaded by the SDK's own dynamic-provider host in a
 * separate process, driven over gRPC (Configure, Check, Diff, Create,
 * Update, Read, Delete) against real HAProxy and real Prometheus.
 */

const URN = "urn:pulumi:test::proving-ground::pulumi-nodejs:dynamic/progressive-delivery:TrafficSplit::backend";

const release = provingGroundRelease([25, 100]);

const inputs = (stable: "blue" | "green", candidate: "blue" | "green", extra: Record<string, unknown> = {}) => ({
  __provider: pg.providerText,
  ...pg.ground.splitInputs(stable, candidate, [25, 100], extra),
});

const pg = withProvingGround({ loadMs: 240_000, split: { name: "backend", release } });

describe("TrafficSplit through the SDK's dynamic-provider host (gRPC)", () => {
  it("the SDK serializes a small, self-contained provider with its own type token", () => {
    expect(pg.providerText.length).toBeLessThan(20_000);
    expect(pg.providerText).toContain("exports.handler");
    expect(pg.providerText).toContain("tsx/cjs/api");
    // No test-runner module wrappers leaked into the closure.
    expect(pg.providerText).not.toMatch(/__vite_ssr_import/);
  });

  it("Check validates inputs, reports each bad field, and passes unknowns through during preview", async () => {
    const bad = await pg.host.check(URN, {}, { ...inputs("blue", "green"), stable: "green", intervalSeconds: -1 });
    expect(bad.failures.map((f) => f.property).sort()).toEqual(["candidate", "intervalSeconds"]);
    expect(bad.failures.find((f) => f.property === "candidate")!.reason).toBe("stable and candidate must differ");
    const preview = await pg.host.check(URN, {}, { ...inputs("blue", "green"), candidate: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" });
    expect(preview.failures).toEqual([]);
    const ok = await pg.host.check(URN, {}, inputs("blue", "green"));
    expect(ok.failures).toEqual([]);
    expect(ok.inputs["immediate"]).toBe(false); // defaults applied
    expect(ok.inputs["__provider"]).toBe(pg.providerText);
  });

  it("Check refuses a production release its own forecast says cannot conclude, says what would, and lets an explicit override through", async () => {
    const trickle = { ...release, analysis: { ...release.analysis, expectedRps: 0.2 } };
    const refused = await pg.host.check(URN, {}, inputs("blue", "green", { release: trickle }));
    expect(refused.failures).toHaveLength(1);
    expect(refused.failures[0]!.property).toBe("release");
    expect(refused.failures[0]!.reason).toMatch(/^step 1 \(25%\) needs \d+ candidate requests, about \d+ s at 0\.2 req\/s, but its limit is 60 s/);
    expect(refused.failures[0]!.reason).toContain(
      "Nothing was started: raise the first steps' weights, lengthen maxStepSeconds (or the deadline), or release when more traffic is expected",
    );
    expect((await pg.host.check(URN, {}, inputs("blue", "green", { release: trickle, allowInconclusive: true }))).failures).toEqual([]);
    expect((await pg.host.check(URN, {}, inputs("blue", "green", { release: trickle, environment: "staging" }))).failures).toEqual([]);
    expect((await pg.host.check(URN, {}, inputs("blue", "green", { release: trickle, immediate: true }))).failures).toEqual([]);
    // Check passes inputs holding an unknown value through; Create asks again before anything moves.
    const sneaky = inputs("blue", "green", { release: trickle, retryToken: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" });
    expect((await pg.host.check(URN, {}, sneaky)).failures).toEqual([]);
    const before = await pg.ground.weights();
    await expect(pg.host.create(URN, sneaky)).rejects.toThrow(/step 1 \(25%\) needs \d+ candidate requests.*Nothing was started/);
    expect(await pg.ground.weights()).toEqual(before);
  });

  let created: { id: string; properties: Record<string, unknown> };

  it("Create promotes a healthy candidate through the steps on real traffic", async () => {
    const checked = (await pg.host.check(URN, {}, inputs("blue", "green"))).inputs;
    created = await pg.host.create(URN, checked);
    expect(created.id).toBe(`haproxy:${pg.ground.haproxy.runtimeApi}/be_app`);
    expect(created.properties["phase"]).toBe("promoted");
    expect(created.properties["stableRevision"]).toBe("green");
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    const steps = created.properties["steps"] as { weight: number; outcome: string; candidateRequests: number }[];
    expect(steps.map((s) => [s.weight, s.outcome])).toEqual([
      [25, "pass"],
      [100, "pass"],
    ]);
    expect(steps[0]!.candidateRequests).toBeGreaterThan(50);
    // Progress reached the engine's log service while the update ran.
    expect(pg.engine.logs.some((l) => /step 1\/2: 25% to the candidate/.test(l))).toBe(true);
    expect(pg.engine.logs.some((l) => /gate smoke: passed/.test(l))).toBe(true);
    expect(pg.engine.logs.some((l) => /expected rollout/.test(l))).toBe(true);
  }, 200_000);

  it("Diff reports no change for the same release, a change for a new candidate, and replace for a new target", async () => {
    const olds = created.properties;
    // As the engine does: Diff sees the inputs Check returned.
    const checked = async (news: Record<string, unknown>) => (await pg.host.check(URN, olds, news)).inputs;
    expect((await pg.host.diff(URN, created.id, olds, await checked({ ...inputs("blue", "green"), intervalSeconds: 5 }))).changes).toBe("none");
    expect((await pg.host.diff(URN, created.id, olds, await checked(inputs("green", "blue")))).changes).toBe("some");
    expect((await pg.host.diff(URN, created.id, olds, await checked({ ...inputs("blue", "green"), retryToken: "2" }))).changes).toBe("some");
    const moved = await pg.host.diff(
      URN,
      created.id,
      olds,
      await checked({ ...inputs("blue", "green"), target: { ...pg.ground.target(), backend: "be_other" } }),
    );
    expect(moved).toEqual({ changes: "some", replaces: ["target"] });
    // A release to the other slot changes the URLs the split checks, not where it lives: an update, never a replacement
    // (a replacement would leave the superseded resource, and its old record, in state until deleted).
    const swapped = await pg.host.diff(URN, created.id, olds, await checked(inputs("green", "blue")));
    expect(swapped).toEqual({ changes: "some", replaces: [] });
  });

  let cutByRollback = 0;

  it("Update with a failing candidate rolls back, fails with step, gate, value and threshold, and keeps the record in state", async () => {
    // The new release goes to the idle blue slot, and it answers 30% of requests with 500.
    await pg.ground.redeploy("blue", "v3", ["--error-rate", "0.3"]);
    const errorsBefore = pg.load.snapshot().networkErrors;
    const news = (await pg.host.check(URN, created.properties, inputs("green", "blue"))).inputs;
    const err = (await pg.host.update(URN, created.id, created.properties, news).then(
      () => undefined,
      (e: unknown) => e,
    )) as RpcError;
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toMatch(/step 1\/2 \(25% to blue\): (guardrail|comparative):error-rate: candidate error rate/);
    expect(err.initFailure?.properties["phase"]).toBe("rolled-back");
    expect(err.initFailure?.properties["rejectedRevision"]).toBe("blue");
    expect(err.initFailure?.properties["__provider"]).toBe(pg.providerText);
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    expect(pg.engine.logs.some((l) => /ROLLBACK: .* traffic back on stable in \d+ ms/.test(l))).toBe(true);
    created = { id: created.id, properties: err.initFailure!.properties };
    // A guardrail rollback is immediate: it closes the candidate's open connections, so a request in flight to it at that
    // instant is cut (by design; BENCHMARKS.md measures how many). Those are the only network errors this file allows.
    await new Promise((r) => setTimeout(r, 300));
    cutByRollback = pg.load.snapshot().networkErrors - errorsBefore;
    expect(cutByRollback).toBeLessThanOrEqual(5);
  }, 200_000);

  it("the rejected candidate is not retried by the next update, only with a retry token", async () => {
    const news = (await pg.host.check(URN, created.properties, inputs("green", "blue"))).inputs;
    const again = await pg.host.update(URN, created.id, created.properties, news);
    expect(again["phase"]).toBe("rolled-back");
    expect(String(again["message"])).toContain("change the candidate or set a retry token");
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
  });

  it("Read reports the live weights and the checkpoint's phase (refresh)", async () => {
    const props = await pg.host.read(URN, created.id, created.properties);
    expect(props["liveCandidateWeight"]).toBe(0);
    expect(props["phase"]).toBe("rolled-back");
  });

  it("Delete of a finished rollout leaves traffic where it is", async () => {
    await pg.host.delete(URN, created.id, created.properties);
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    const served = pg.load.snapshot();
    expect(served.networkErrors).toBe(cutByRollback);
    expect(served.byVersion["v2"]!.ok).toBeGreaterThan(0);
  });
});
