import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { HaproxyRouter, parseServersState, runtimeCommand } from "../../../src/release/routers/haproxy";
import { LeaseLost, SplitChanged, type CheckpointWrite } from "../../../src/release/routers/router";
import { describeSplit, shareOf, type LiveSplit } from "../../../src/release/split";
import { startFaultProxy } from "../../support/faultProxy";
import { startHaproxy, type Haproxy } from "../../support/haproxy";
import { startSampleBackend, type Proc } from "../../support/processes";
import { messageText } from "../../../src/release/metrics/websocketProbe";

let stable: Proc & { url: string; port: number };
let candidate: Proc & { url: string; port: number };
let haproxy: Haproxy;
let router: HaproxyRouter;

beforeAll(async () => {
  stable = await startSampleBackend("v1");
  candidate = await startSampleBackend("v2");
  haproxy = await startHaproxy(stable.port, candidate.port);
  router = new HaproxyRouter({
    runtimeApi: haproxy.runtimeApi,
    backend: "be_app",
    stableServer: "stable",
    candidateServer: "candidate",
    stateFile: haproxy.stateFile,
    candidateUrl: candidate.url,
  });
});
afterAll(async () => {
  await Promise.all([haproxy?.stop(), stable?.stop(), candidate?.stop()]);
});

/** A checkpoint write that accepts anything and records the split it was shown. */
function write(text: string, check?: (stored: string | null, live: LiveSplit) => void): CheckpointWrite & { seen: LiveSplit[] } {
  const seen: LiveSplit[] = [];
  return { text, seen, guard: (stored, live) => (seen.push(live), check?.(stored, live)) };
}

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

const openSocket = async () => {
  const ws = new WebSocket(`${haproxy.frontend.replace("http", "ws")}/ws`);
  await new Promise((r, j) => (ws.once("open", r), ws.once("error", j)));
  return ws;
};

describe("HAProxy router against a real HAProxy (runtime API)", () => {
  it("reads and sets the split; real traffic follows the weights", async () => {
    expect(describeSplit(await router.readSplit())).toBe("stable 100%");
    expect(await sample(50)).toEqual({ v1: 50 });
    await router.setWeight(25, write('{"ckpt":1}'));
    expect(shareOf(await router.readSplit(), "candidate")).toBe(25);
    expect((await runtimeCommand(haproxy.runtimeApi, "get weight be_app/stable")).trim()).toMatch(/^75 /);
    const seen = await sample(200);
    // Round robin with weights 75/25 is exact over whole cycles.
    expect(seen["v2"]).toBe(50);
    expect(readFileSync(haproxy.stateFile, "utf8")).toBe('{"ckpt":1}');
    expect(await router.readCheckpoint()).toBe('{"ckpt":1}');
  });

  it("a server in maintenance or drained carries no share; a weight changed by hand is seen by the guard before any write", async () => {
    await router.setWeight(0, write("{}"));
    await runtimeCommand(haproxy.runtimeApi, "set server be_app/candidate state maint");
    await runtimeCommand(haproxy.runtimeApi, "set weight be_app/candidate 50");
    expect(shareOf(await router.readSplit(), "candidate")).toBe(0);
    // prepare lowers the weight before making the server ready, so it never takes traffic by becoming ready.
    await router.prepare(write("{}"));
    expect((await runtimeCommand(haproxy.runtimeApi, "get weight be_app/candidate")).trim()).toMatch(/^0 /);
    // Someone sets 30% by hand; the guard refuses and nothing is written or moved.
    await runtimeCommand(haproxy.runtimeApi, "set weight be_app/candidate 30");
    await runtimeCommand(haproxy.runtimeApi, "set weight be_app/stable 70");
    const before = readFileSync(haproxy.stateFile, "utf8");
    const w = write('{"new":1}', (_s, live) => {
      if (shareOf(live, "candidate") !== 0) throw new SplitChanged(live);
    });
    await expect(router.setWeight(10, w)).rejects.toBeInstanceOf(SplitChanged);
    expect(shareOf(w.seen[0]!, "candidate")).toBe(30);
    expect(readFileSync(haproxy.stateFile, "utf8")).toBe(before);
    expect((await runtimeCommand(haproxy.runtimeApi, "get weight be_app/candidate")).trim()).toMatch(/^30 /);
    await router.setWeight(0, write("{}"));
  });

  it("names outside HAProxy's identifier characters never reach the runtime socket", async () => {
    expect(
      () =>
        new HaproxyRouter({
          runtimeApi: haproxy.runtimeApi,
          backend: "be_app",
          stableServer: "stable",
          candidateServer: "green;disable server be_app/stable",
          stateFile: `${haproxy.dir}/z.json`,
        }),
    ).toThrow(/is not an HAProxy identifier/);
    await expect(runtimeCommand(haproxy.runtimeApi, "get weight be_app/stable;disable server be_app/stable")).rejects.toThrow(/refusing to send/);
    // HAProxy's admin state is untouched.
    expect(shareOf(await router.readSplit(), "stable")).toBe(100);
  });

  it("writes are a compare-and-swap under a lock: two engines racing for one state file serialize, the loser's guard sees the winner's checkpoint", async () => {
    await router.saveCheckpoint(write("base"));
    const other = new HaproxyRouter({
      runtimeApi: haproxy.runtimeApi,
      backend: "be_app",
      stableServer: "stable",
      candidateServer: "candidate",
      stateFile: haproxy.stateFile,
    });
    const cas = (expected: string) => (stored: string | null) => {
      if (stored !== expected) throw new LeaseLost(`expected ${expected}, found ${stored}`);
    };
    const results = await Promise.allSettled([router.setWeight(10, write("A", cas("base"))), other.setWeight(20, write("B", cas("base")))]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(LeaseLost);
    const winner = readFileSync(haproxy.stateFile, "utf8");
    expect(["A", "B"]).toContain(winner);
    expect(shareOf(await router.readSplit(), "candidate")).toBe(winner === "A" ? 10 : 20);
    await router.setWeight(0, write("{}"));
  });

  it("an immediate rollback closes the candidate's open WebSockets at once", async () => {
    await router.setWeight(100, write("{}"));
    const ws = await openSocket();
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    const r = await router.rollback(write('{"phase":"rolled-back"}'), { mode: "immediate" });
    expect(r.note).toMatch(/closed 1 open session\(s\) on be_app\/candidate at once/);
    expect(shareOf(await router.readSplit(), "candidate")).toBe(0);
    expect(await closed).toBeGreaterThan(0);
    expect(await sample(40)).toEqual({ v1: 40 });
    expect(await router.readCheckpoint()).toBe('{"phase":"rolled-back"}');
  });

  it("a drain rollback sends new requests to stable at once and lets open sessions end on their own, closing what is left at the end", async () => {
    await router.setWeight(100, write("{}"));
    const leaving = await openSocket();
    const staying = await openSocket();
    const stayingClosed = new Promise<number>((r) => staying.once("close", (code) => r(code)));
    const t0 = Date.now();
    const rolling = router.rollback(write("{}"), { mode: "drain", drainMs: 1_500 });
    await new Promise((r) => setTimeout(r, 300));
    // New requests already go to stable while the drain runs.
    expect(await sample(10)).toEqual({ v1: 10 });
    // One client ends its session on its own (e.g. reconnecting): it is not cut.
    const echo = new Promise<string>((r) => leaving.once("message", (d) => r(messageText(d))));
    leaving.send("still here");
    expect(await echo).toBe("still here");
    leaving.close(1000);
    const r = await rolling;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
    expect(r.note).toMatch(/closed 1 session\(s\) still open on be_app\/candidate after the 2 s drain/);
    expect(await stayingClosed).toBeGreaterThan(0);
  });

  it("a drain ends early when nothing is left open", async () => {
    await router.setWeight(50, write("{}"));
    const t0 = Date.now();
    const r = await router.rollback(write("{}"), { mode: "drain", drainMs: 10_000 });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(r.drained).toBe(true);
  });

  it("reports a refused command and an unreachable runtime API clearly", async () => {
    const bad = new HaproxyRouter(
      { runtimeApi: haproxy.runtimeApi, backend: "be_app", stableServer: "stable", candidateServer: "nope", stateFile: `${haproxy.dir}/x.json` },
      { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
    );
    await expect(bad.setWeight(10, write("{}"))).rejects.toThrow(/HAProxy (refused|answered)/);
    await expect(bad.prepare(write("{}"))).rejects.toThrow("HAProxy backend be_app has no server named nope");
    const down = new HaproxyRouter(
      { runtimeApi: "127.0.0.1:1", backend: "be_app", stableServer: "stable", candidateServer: "candidate", stateFile: `${haproxy.dir}/y.json` },
      { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    );
    await expect(down.readSplit()).rejects.toThrow(/failed after 3 attempt\(s\): HAProxy runtime API 127.0.0.1:1/);
  });

  it("does not take a swallowed command's empty answer for success: each weight is read back and set again", async () => {
    await router.rollback(write("{}"), { mode: "immediate" });
    const proxy = await startFaultProxy(haproxy.runtimeApi);
    try {
      const through = new HaproxyRouter(
        { runtimeApi: proxy.address, backend: "be_app", stableServer: "stable", candidateServer: "candidate", stateFile: haproxy.stateFile },
        { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 },
      );
      proxy.swallowNext = 2;
      await through.setWeight(40, write("{}"));
      expect(proxy.swallowed).toBe(2);
      expect((await runtimeCommand(haproxy.runtimeApi, "get weight be_app/candidate")).trim()).toMatch(/^40 /);
      expect((await runtimeCommand(haproxy.runtimeApi, "get weight be_app/stable")).trim()).toMatch(/^60 /);
      // A socket that never carries a change out: a clear failure, not a silent half switch.
      proxy.swallowNext = Infinity;
      await expect(through.setWeight(80, write("{}"))).rejects.toThrow(
        /set weight be_app\/stable 20 failed after 4 attempt\(s\): HAProxy reports weight 60 for be_app\/stable/,
      );
    } finally {
      await proxy.stop();
    }
  });

  it("a server HAProxy's own health checks marked DOWN keeps its share of the split (its failures are the analysis' business); maintenance and drain are a person's and count 0", () => {
    const answer = [
      "1",
      "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change",
      "3 be_app 1 blue 127.0.0.1 2 0 50 100 0",
      "3 be_app 2 green 127.0.0.1 0 0 50 0 0",
      "3 be_app 3 gray 127.0.0.1 2 1 20 20 0",
      "3 be_app 4 white 127.0.0.1 2 8 20 20 0",
    ].join("\n");
    expect(parseServersState(answer, "be_app")).toEqual([
      { name: "blue", weight: 50, inService: true },
      { name: "green", weight: 50, inService: true },
      { name: "gray", weight: 20, inService: false },
      { name: "white", weight: 20, inService: false },
    ]);
  });
});
