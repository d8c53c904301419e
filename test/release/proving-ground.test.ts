import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { ProviderHost, RpcError } from "../support/providerHost";
import { provingGroundRelease, withProvingGround, type Slot } from "../support/provingGround";
import { messageText } from "../../src/release/metrics/websocketProbe";

/**
 * The proving-ground scenarios, each driven through the SDK's
 * dynamic-provider host with the provider text the SDK serializes, on real
 * HAProxy and Prometheus with live load (60 req/s, bounded): a healthy
 * release with WebSockets open across the switch, 5% errors, +300 ms, a
 * failing smoke test, an interrupted run resumed by a new host, the runtime
 * socket failing mid-step, and Prometheus stopped mid-rollout. (Diff, Read,
 * Delete: provider/protocol.test.ts.)
 */

const URN = "urn:pulumi:test::proving-ground::pulumi-nodejs:dynamic/progressive-delivery:TrafficSplit::scenarios";

let state: { id: string; properties: Record<string, unknown> };

const inputs = (stable: Slot, candidate: Slot, steps: number[], extra: Record<string, unknown> = {}) => ({
  __provider: pg.providerText,
  ...pg.ground.splitInputs(stable, candidate, steps, extra),
});

/** Waits (bounded) until the engine's log has a line matching `re` after index `from`. */
async function logged(re: RegExp, from: number, timeoutMs = 90_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (pg.engine.logs.slice(from).some((l) => re.test(l))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `no log line matching ${re} within ${timeoutMs} ms; last lines:\n${pg.engine.logs.slice(-8).join("\n")}\nprovider host output:\n${pg.host.output().slice(-3000)}`,
  );
}

/**
 * Waits (bounded) until HAProxy itself carries `percent` on `slot`: the
 * engine logs a step before its router moves traffic, so the log line alone
 * does not say the move happened.
 */
async function carries(slot: Slot, percent: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const w = await pg.ground.weights();
    if (w[slot] === percent && w.blue + w.green === 100) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`HAProxy did not carry ${percent}% on ${slot} within ${timeoutMs} ms: ${JSON.stringify(await pg.ground.weights())}`);
}

async function update(stable: Slot, candidate: Slot, steps: number[], extra: Record<string, unknown> = {}, on = pg.host) {
  // The scenarios run in order, each from the release the previous one left.
  if (!state) throw new Error("no TrafficSplit state: scenario 1 did not create the release (see its failure)");
  const news = (await on.check(URN, state.properties, inputs(stable, candidate, steps, extra))).inputs;
  return on.update(URN, state.id, state.properties, news);
}

const failed = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected the update to fail");
    },
    (e: unknown) => e as RpcError,
  );

const pg = withProvingGround({ loadMs: 420_000, split: { name: "scenarios", release: provingGroundRelease([25, 100]) } });

describe("proving ground, through the dynamic-provider host", () => {
  it("1. healthy candidate: promoted through every step; no request failed; WebSockets opened before the switch keep working", async () => {
    const sockets = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const ws = new WebSocket(`${pg.ground.haproxy.frontend.replace("http", "ws")}/ws`);
        await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
        return ws;
      }),
    );
    const closes: number[] = [];
    for (const ws of sockets) ws.on("close", (code) => closes.push(code));
    const before = pg.load.snapshot();
    const checked = (await pg.host.check(URN, {}, inputs("blue", "green", [10, 25, 50, 100]))).inputs;
    state = await pg.host.create(URN, checked);
    expect(state.properties["phase"]).toBe("promoted");
    expect((state.properties["steps"] as { weight: number }[]).map((s) => s.weight)).toEqual([10, 25, 50, 100]);
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    // Established sessions stay on the server they started on (HAProxy keeps existing connections when
    // weights change; only a rollback shuts the candidate's sessions down).
    for (const [i, ws] of sockets.entries()) {
      const echo = new Promise<string>((r) => ws.once("message", (d) => r(messageText(d))));
      ws.send(`after-switch-${i}`);
      expect(await echo).toBe(`after-switch-${i}`);
    }
    expect(closes).toEqual([]);
    for (const ws of sockets) ws.close();
    const after = pg.load.snapshot();
    expect(after.networkErrors - before.networkErrors).toBe(0);
    expect((after.byVersion["v1"]?.failed ?? 0) + (after.byVersion["v2"]?.failed ?? 0)).toBe(0);
    expect(after.byVersion["v2"]!.ok).toBeGreaterThan(100);
  }, 200_000);

  it("2. candidate with 5% errors: rolled back at the first step, stable carries 100%, the message names step, gate, value and threshold", async () => {
    await pg.ground.redeploy("blue", "v3-err5", ["--error-rate", "0.05"]);
    const err = await failed(update("green", "blue", [25, 100]));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toMatch(/step 1\/2 \(25% to blue\): (comparative|guardrail):error-rate: candidate error rate .* vs (allowed|threshold) /);
    expect(err.initFailure?.properties["phase"]).toBe("rolled-back");
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    state = { id: state.id, properties: err.initFailure!.properties };
  }, 200_000);

  it("3. latency regression (+300 ms): rolled back by a latency gate", async () => {
    await pg.ground.redeploy("blue", "v3-slow", ["--added-latency-ms", "300"]);
    const err = await failed(update("green", "blue", [25, 100], { retryToken: "slow" }));
    expect(err.message).toMatch(/step 1\/2 \(25% to blue\): (comparative:latency|guardrail:p95-latency|step:p95-latency)/);
    expect(err.initFailure?.properties["phase"]).toBe("rolled-back");
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    state = { id: state.id, properties: err.initFailure!.properties };
  }, 200_000);

  it("4. candidate failing its smoke test: rejected before any traffic reaches it", async () => {
    await pg.ground.redeploy("blue", "v3-broken", ["--fail-health"]);
    const err = await failed(update("green", "blue", [25, 100], { retryToken: "smoke" }));
    expect(err.message).toContain("GET /health: status 503, expected 200");
    expect(err.initFailure?.properties["phase"]).toBe("rejected");
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    expect(pg.load.snapshot().byVersion["v3-broken"]).toBeUndefined();
    state = { id: state.id, properties: err.initFailure!.properties };
  }, 200_000);

  it("8. weights changed by hand mid-release: the engine stops, traffic stays as the person set it, both splits in the failure", async () => {
    await pg.ground.redeploy("blue", "v3-ok");
    const from = pg.engine.logs.length;
    const outcome = failed(update("green", "blue", [25, 100], { retryToken: "drift" }));
    await logged(/step 1\/2: 25% to the candidate/, from);
    await carries("blue", 25);
    await pg.ground.setWeightsByHand({ blue: 50, green: 50 });
    const err = await outcome;
    expect(err.message).toMatch(
      /the live split is not what this release expects at step 1\/2 \(25% to blue\): live green 50%, blue 50%; expected green 75%, blue 25%/,
    );
    expect(err.initFailure?.properties["phase"]).toBe("interrupted");
    expect(await pg.ground.weights()).toEqual({ blue: 50, green: 50 });
    expect(pg.engine.logs.slice(from).some((l) => /ROLLBACK/.test(l))).toBe(false);
    // The person finishes their change (back to green); the next scenarios start from there.
    await pg.ground.setWeightsByHand({ blue: 0, green: 100 });
    state = { id: state.id, properties: err.initFailure!.properties };
  }, 200_000);

  it("9. a candidate killed late in a step is never promoted: its undelivered requests count against it", async () => {
    await pg.ground.redeploy("blue", "v3-dies");
    const from = pg.engine.logs.length;
    const release = { ...provingGroundRelease([50, 100]), bakeSeconds: 12 };
    const outcome = failed(update("green", "blue", [50, 100], { retryToken: "dies", release }));
    await logged(/step 1\/2: 50% to the candidate/, from);
    await carries("blue", 50);
    // 3 s before the bake ends: HAProxy answers the dead server's requests with its own 503 (connection errors).
    await new Promise((r) => setTimeout(r, 9_000));
    pg.ground.kill("blue");
    const err = await outcome;
    expect(err.initFailure?.properties["phase"]).toBe("rolled-back");
    expect(err.message).toMatch(/step 1\/2 \(50% to blue\): (guardrail:error-rate|comparative:error-rate|guardrail:health|candidate-health)/);
    expect(pg.engine.logs.slice(from).some((l) => /promoted/.test(l))).toBe(false);
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    await pg.ground.redeploy("blue", "v3-ok");
    state = { id: state.id, properties: err.initFailure!.properties };
  }, 200_000);

  it("10. the scrape path to HAProxy's exporter cut late in a step: stale or missing data is no data, never promoted", async () => {
    const from = pg.engine.logs.length;
    const release = { ...provingGroundRelease([50, 100]), bakeSeconds: 12 };
    const outcome = failed(update("green", "blue", [50, 100], { retryToken: "stale", release }));
    await logged(/step 1\/2: 50% to the candidate/, from);
    await carries("blue", 50);
    await new Promise((r) => setTimeout(r, 8_000));
    pg.ground.scrapePath.down = true;
    try {
      const err = await outcome;
      expect(err.initFailure?.properties["phase"]).toBe("rolled-back");
      expect(err.message).toMatch(/metrics unavailable for \d+ s .*(no series|stale|down)/);
      expect(pg.engine.logs.slice(from).some((l) => /metrics unavailable/.test(l))).toBe(true);
      expect(pg.engine.logs.slice(from).some((l) => /promoted/.test(l))).toBe(false);
      expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
      state = { id: state.id, properties: err.initFailure!.properties };
    } finally {
      pg.ground.scrapePath.down = false;
    }
  }, 200_000);

  it("11. a WebSocket candidate that drops 30% of its messages (HTTP all healthy) is rolled back by the echo probe", async () => {
    await pg.ground.redeploy("blue", "v3-drops", ["--drop-messages", "0.3"]);
    const from = pg.engine.logs.length;
    const err = await failed(update("green", "blue", [25, 100], { retryToken: "drops" }));
    expect(err.initFailure?.properties["phase"]).toBe("rolled-back");
    expect(err.message).toMatch(/step 1\/2 \(25% to blue\): (guardrail|comparative):error-rate/);
    // The HTTP side was clean: every failure the engine saw came from the probe.
    expect(pg.load.snapshot().byVersion["v3-drops"]?.failed ?? 0).toBe(0);
    expect(pg.engine.logs.slice(from).some((l) => /probe: candidate [1-9]\d*\/\d+ failed, stable 0\/\d+/.test(l))).toBe(true);
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    state = { id: state.id, properties: err.initFailure!.properties };
  }, 200_000);

  it("7. a run killed at step 3 is resumed by the next run from its checkpoint, not restarted", async () => {
    await pg.ground.redeploy("blue", "v4");
    const from = pg.engine.logs.length;
    // A new build in the slot that was just rejected: a new retry token makes it a new release.
    const pending = update("green", "blue", [20, 40, 60, 100], { retryToken: "v4" }).catch((e: unknown) => e);
    await logged(/step 3\/4: 60% to the candidate/, from);
    await carries("blue", 60);
    await pg.host.kill();
    await pending;
    expect((await pg.ground.weights()).blue).toBe(60);
    // A new host (the next `pulumi up`): the resource was never recorded, so the engine creates it again.
    const mark = pg.engine.logs.length;
    pg.host = await ProviderHost.start(pg.engine.address);
    await pg.host.configure();
    const checked = (await pg.host.check(URN, {}, inputs("green", "blue", [20, 40, 60, 100], { retryToken: "v4" }))).inputs;
    state = await pg.host.create(URN, checked);
    expect(state.properties["phase"]).toBe("promoted");
    const second = pg.engine.logs.slice(mark);
    expect(second.some((l) => /resuming green->blue#v4 from its checkpoint: phase analysing, step 3\/4 at 60%/.test(l))).toBe(true);
    expect(second.some((l) => /step [12]\/4:/.test(l))).toBe(false);
    expect(await pg.ground.weights()).toEqual({ blue: 100, green: 0 });
  }, 240_000);

  it("6. HAProxy's runtime socket failing mid-step: retries, then stable restored once it answers; nothing half-switched", async () => {
    await pg.ground.redeploy("green", "v5");
    const proxy: FaultProxy = await startFaultProxy(pg.ground.haproxy.runtimeApi);
    try {
      const from = pg.engine.logs.length;
      const outcome = failed(
        update("blue", "green", [25, 100], { target: { ...pg.ground.target(), runtimeApi: proxy.address, candidateUrl: pg.ground.candidateUrl("green") } }),
      );
      await logged(/step 1\/2: 25% to the candidate/, from);
      await carries("green", 25);
      // The move is over (its read-back included) once the step's first window is reported: the outage starts mid-step.
      await logged(/step 1 @ 25%:/, from);
      proxy.down = true;
      await logged(/restoring stable failed \(attempt 2\)/, from);
      const weightsDuringOutage = await pg.ground.weights();
      expect(weightsDuringOutage.blue + weightsDuringOutage.green).toBe(100);
      proxy.down = false;
      const err = await outcome;
      // The router's first call of the move (reading the split for the drift lock, or a weight) gave up after its attempts.
      expect(err.message).toMatch(
        /step 2\/2 \(100% to green\): the traffic router failed to move traffic: haproxy (set weight be_app\/\w+ \d+|read servers) failed after 5 attempt\(s\)/,
      );
      expect(err.initFailure?.properties["phase"]).toBe("rolled-back");
      expect(proxy.refused).toBeGreaterThan(5);
      expect(await pg.ground.weights()).toEqual({ blue: 100, green: 0 });
      state = { id: state.id, properties: err.initFailure!.properties };
    } finally {
      await proxy.stop();
    }
  }, 240_000);

  it("5. Prometheus stopped mid-rollout: never promoted, rolled back after the inconclusive limit", async () => {
    const from = pg.engine.logs.length;
    const outcome = failed(update("blue", "green", [25, 100], { retryToken: "after-outage" }));
    await logged(/step 1\/2: 25% to the candidate/, from);
    await pg.ground.stopPrometheus();
    const err = await outcome;
    expect(err.message).toMatch(/metrics/i);
    expect(err.initFailure?.properties["phase"]).toBe("rolled-back");
    expect(pg.engine.logs.slice(from).some((l) => /promoted/.test(l))).toBe(false);
    expect(await pg.ground.weights()).toEqual({ blue: 100, green: 0 });
  }, 240_000);
});
