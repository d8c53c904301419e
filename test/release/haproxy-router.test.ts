import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { HaproxyRouter, runtimeCommand } from "../../src/release/routers/haproxy";
import { startFaultProxy } from "../support/faultProxy";
import { startHaproxy, type Haproxy } from "../support/haproxy";
import { startSampleBackend, type Proc } from "../support/processes";

let stable: Proc & { url: string; port: number };
let candidate: Proc & { url: string; port: number };
let haproxy: Haproxy;
let router: HaproxyRouter;

beforeAll(async () => {
  stable = await startSampleBackend("v1");
  candidate = await startSampleBackend("v2");
  haproxy = await startHaproxy(stable.port, candidate.port);
  router = new HaproxyRouter({ runtimeApi: haproxy.runtimeApi, backend: "be_app", stableServer: "stable", candidateServer: "candidate", stateFile: haproxy.stateFile, candidateUrl: candidate.url });
});
afterAll(async () => {
  await Promise.all([haproxy?.stop(), stable?.stop(), candidate?.stop()]);
});

/** Sends n requests through HAProxy (bounded, loopback) and counts answers per version. */
async function sample(n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${haproxy.frontend}/api`, { signal: AbortSignal.timeout(2000) });
    const v = res.headers.get("x-version") ?? "?";
    await res.arrayBuffer();
    seen[v] = (seen[v] ?? 0) + 1;
  }
  return seen;
}

describe("HAProxy router against a real HAProxy (runtime API)", () => {
  it("reads and sets the split; real traffic follows the weights", async () => {
    expect(await router.currentWeight()).toBe(0);
    expect(await sample(50)).toEqual({ v1: 50 });
    await router.setWeight(25, '{"ckpt":1}');
    expect(await router.currentWeight()).toBe(25);
    expect((await runtimeCommand(haproxy.runtimeApi, "get weight be_app/stable")).trim()).toMatch(/^75 /);
    const seen = await sample(200);
    // Round robin with weights 75/25 is exact over whole cycles.
    expect(seen["v2"]).toBe(50);
    expect(readFileSync(haproxy.stateFile, "utf8")).toBe('{"ckpt":1}');
    expect(await router.readCheckpoint()).toBe('{"ckpt":1}');
  });

  it("rolls back in one step to 100% stable and closes the candidate's open WebSockets", async () => {
    await router.setWeight(100, "{}");
    const ws = new WebSocket(`${haproxy.frontend.replace("http", "ws")}/ws`);
    await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    const echoed = new Promise<string>((r) => ws.once("message", (d) => r(d.toString())));
    ws.send("before-rollback");
    expect(await echoed).toBe("before-rollback");

    const t0 = performance.now();
    const r = await router.rollback('{"phase":"rolled-back"}');
    const ms = performance.now() - t0;
    expect(r.drained).toBe(true);
    expect(await router.currentWeight()).toBe(0);
    expect(await closed).toBeGreaterThan(0);
    expect(await sample(40)).toEqual({ v1: 40 });
    expect(ms).toBeGreaterThan(0);
    expect(await router.readCheckpoint()).toBe('{"phase":"rolled-back"}');
  });

  it("reports a refused command and an unreachable runtime API clearly", async () => {
    const bad = new HaproxyRouter({ runtimeApi: haproxy.runtimeApi, backend: "be_app", stableServer: "stable", candidateServer: "nope", stateFile: `${haproxy.dir}/x.json` }, { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 });
    await expect(bad.setWeight(10, "{}")).rejects.toThrow(/HAProxy (refused|answered)/);
    const down = new HaproxyRouter({ runtimeApi: "127.0.0.1:1", backend: "be_app", stableServer: "stable", candidateServer: "candidate", stateFile: `${haproxy.dir}/y.json` }, { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 });
    await expect(down.currentWeight()).rejects.toThrow(/failed after 3 attempt\(s\): HAProxy runtime API 127.0.0.1:1/);
  });

  it("does not take a swallowed command's empty answer for success: each weight is read back and set again", async () => {
    await router.rollback("{}");
    const proxy = await startFaultProxy(haproxy.runtimeApi);
    try {
      const through = new HaproxyRouter({ runtimeApi: proxy.address, backend: "be_app", stableServer: "stable", candidateServer: "candidate", stateFile: haproxy.stateFile }, { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 });
      proxy.swallowNext = 2;
      await through.setWeight(40, "{}");
      expect(proxy.swallowed).toBe(2);
      expect((await runtimeCommand(haproxy.runtimeApi, "get weight be_app/candidate")).trim()).toMatch(/^40 /);
      expect((await runtimeCommand(haproxy.runtimeApi, "get weight be_app/stable")).trim()).toMatch(/^60 /);
      // A socket that never carries a change out: a clear failure, not a silent half switch.
      proxy.swallowNext = Infinity;
      await expect(through.setWeight(80, "{}")).rejects.toThrow(/set weight be_app\/stable 20 failed after 4 attempt\(s\): HAProxy reports weight 60 for be_app\/stable/);
    } finally {
      await proxy.stop();
    }
  });
});
