import { OAuth2Client } from "google-auth-library";
import { createServer, type IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { CHECKPOINT_ANNOTATION } from "../../../src/release/checkpoint";
import { CloudRunRouter } from "../../../src/release/routers/cloudRun";
import { HttpRouteRouter } from "../../../src/release/routers/httpRoute";
import { withRetry } from "../../../src/release/routers/retry";
import { httpError, MAX_RETRY_AFTER_MS, RouterError, SplitChanged, type CheckpointWrite } from "../../../src/release/routers/router";
import { VercelFollower } from "../../../src/release/routers/vercel";
import { describeSplit, shareOf, type LiveSplit } from "../../../src/release/split";
import { fakeCloudRun, fakeKubernetes, fakeVercel } from "../../support/fakeApis";

const FAST = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/**
 * A server that answers every request with `status` to `to` (or records it, when `to` is
 * undefined): the redirect trap both clients must not walk into.
 */
async function redirector(status: number, to?: string) {
  const seen: IncomingMessage["headers"][] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    if (to) res.writeHead(status, { location: `${to}${req.url}` }).end();
    else
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ traffic: [{ type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: "x", percent: 100 }], state: "ACTIVE" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  servers.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
  return { url, seen };
}

describe("no client follows a redirect: the token and the body stay with the API they were meant for", () => {
  it.each([301, 302, 307, 308])("HTTP %i: the Vercel follower and the Cloud Run router stop, and the other origin is never asked", async (status) => {
    const other = await redirector(200);
    const trap = await redirector(status, other.url);
    const f = new VercelFollower(
      { projectId: "prj_1", token: "SENTINEL_VERCEL", canaryDeploymentId: "dpl_canary", stableDeploymentId: "dpl_stable", endpoint: trap.url },
      FAST,
    );
    await expect(f.setWeight(5)).rejects.toThrow(new RegExp(`HTTP ${status} redirect to ${other.url}/v1/projects/prj_1/rolling-release, not followed`));
    const router = new CloudRunRouter({ project: "acme", region: "europe-west1", service: "ws-backend", endpoint: trap.url }, "a", "b", authClient(), FAST, 5);
    await expect(router.readSplit()).rejects.toThrow(new RegExp(`HTTP ${status}`));
    expect(trap.seen.length).toBe(2); // one request each: a redirect is not retried either
    expect(other.seen).toEqual([]);
  });
});

/** google-auth-library's real client, holding a short-lived access token as ADC would produce. */
function authClient(token = "test-access-token") {
  const c = new OAuth2Client();
  c.setCredentials({ access_token: token, expiry_date: Date.now() + 3_600_000 });
  return c;
}

/** A checkpoint write whose guard records what it was shown (and accepts it unless `refuse` says otherwise). */
function write(text: string, refuse?: (live: LiveSplit) => boolean): CheckpointWrite & { seen: LiveSplit[] } {
  const seen: LiveSplit[] = [];
  return {
    text,
    seen,
    guard: (_stored, live) => {
      seen.push(live);
      if (refuse?.(live)) throw new SplitChanged(live);
    },
  };
}

describe("Cloud Run router (Admin API v2 contract, google-auth-library)", () => {
  const V8 = "ws-backend-v1-8-0";
  const V9 = "ws-backend-v1-9-0";
  async function setup(traffic?: Parameters<typeof fakeCloudRun>[4], revisions = [V8, V9]) {
    const api = await fakeCloudRun("acme", "europe-west1", "ws-backend", revisions, traffic);
    servers.push(api);
    const router = new CloudRunRouter({ project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url }, V8, V9, authClient(), FAST, 5);
    return { api, router };
  }

  it("tags stable and candidate without moving traffic, moves weights summing to 100 and stores the checkpoint in the same patch", async () => {
    const { api, router } = await setup();
    await router.prepare(write('{"step":0}'));
    expect(api.state.traffic).toEqual([
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: V8, percent: 100, tag: "stable" },
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: V9, percent: 0, tag: "candidate" },
    ]);
    expect(await router.candidateUrl()).toBe("https://candidate---ws-backend-abc123-ew.a.run.app");
    expect(await router.stableUrl()).toBe("https://stable---ws-backend-abc123-ew.a.run.app");
    const patchesBefore = api.requests.filter((r) => r.method === "PATCH").length;
    await router.setWeight(10, write('{"step":1}'));
    expect(api.state.traffic.map((t) => t.percent)).toEqual([90, 10]);
    expect(api.state.annotations[CHECKPOINT_ANNOTATION]).toBe('{"step":1}');
    expect(api.requests.filter((r) => r.method === "PATCH").length).toBe(patchesBefore + 1);
    const patch = api.requests.filter((r) => r.method === "PATCH").at(-1)!;
    expect(patch.path).toContain("updateMask=traffic,annotations");
    expect((patch.body as { etag: string }).etag).toMatch(/^"\d+"$/);
    // The long-running operation was polled until done.
    expect(api.requests.some((r) => r.path.includes("/operations/"))).toBe(true);
    expect(shareOf(await router.readSplit(), V9)).toBe(10);
    expect(await router.readCheckpoint()).toBe('{"step":1}');
    const r = await router.rollback(write('{"phase":"rolled-back"}'), { mode: "drain", drainMs: 30_000 });
    expect(api.state.traffic.map((t) => t.percent)).toEqual([100, 0]);
    // Cloud Run cannot drain: the record states the bound instead of pretending.
    expect(r.drained).toBe(false);
    expect(r.note).toMatch(/cannot close a revision's open connections.*request timeout/);
  });

  it("keeps every other revision's entry and tag; only its own tags move", async () => {
    const V7 = "ws-backend-v1-7-0";
    const { api, router } = await setup(
      [
        { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: V8, percent: 100 },
        { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: V7, percent: 0, tag: "qa" },
        // The previous release's candidate tag sits on the old stable: it moves to the new candidate.
        { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: "ws-backend-v1-6-0", percent: 0, tag: "candidate" },
      ],
      [V7, V8, V9, "ws-backend-v1-6-0"],
    );
    await router.prepare(write("{}"));
    await router.setWeight(25, write("{}"));
    expect(api.state.traffic).toEqual([
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: V7, percent: 0, tag: "qa" },
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: V8, percent: 75, tag: "stable" },
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: V9, percent: 25, tag: "candidate" },
    ]);
  });

  it("reads the whole split, other revisions and LATEST included, for the drift lock", async () => {
    const { router } = await setup([
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: "ws-backend-v1-7-0", percent: 60 },
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", percent: 40 },
    ]);
    expect(describeSplit(await router.readSplit())).toBe("ws-backend-v1-7-0 60%, LATEST 40%");
  });

  it("a split changed between its read and its write (409) is shown to the guard again; a refusing guard means no write at all", async () => {
    const { api, router } = await setup();
    await router.prepare(write("{}"));
    // Someone moves 30% to the candidate by hand between our GET and our PATCH.
    api.state.beforeNextPatch = (st) => (st.traffic = st.traffic.map((t) => ({ ...t, percent: t.revision === V9 ? 30 : 70 })));
    const w = write('{"step":1}', (live) => shareOf(live, V9) !== 0);
    await expect(router.setWeight(5, w)).rejects.toBeInstanceOf(SplitChanged);
    expect(w.seen.map((l) => shareOf(l, V9))).toEqual([0, 30]);
    expect(api.state.traffic.map((t) => t.percent)).toEqual([70, 30]);
    expect(api.state.annotations[CHECKPOINT_ANNOTATION]).toBe("{}");
  });

  it("retries 429 and 503 and rebases on a concurrent change (409 etag mismatch)", async () => {
    const { api, router } = await setup();
    api.faults.push({ status: 429, headers: { "retry-after": "0" } }, { status: 503 });
    await router.setWeight(25, write("{}"));
    expect(api.state.traffic.map((t) => t.percent)).toEqual([75, 25]);
    api.state.concurrentWriteBeforeNextPatch = true;
    const patches = api.requests.filter((r) => r.method === "PATCH").length;
    await router.setWeight(50, write("{}"));
    expect(api.state.traffic.map((t) => t.percent)).toEqual([50, 50]);
    expect(api.requests.filter((r) => r.method === "PATCH").length).toBe(patches + 2);
  });

  it("requests to the service's own URLs carry an ID token whose audience is the service's run.app URL", async () => {
    const { api } = await setup();
    const audiences: string[] = [];
    const router = new CloudRunRouter(
      { project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url },
      V8,
      V9,
      authClient(),
      FAST,
      5,
      async (aud) => (audiences.push(aud), "id-token-for-test"),
    );
    expect(await router.callerHeaders()).toEqual({ authorization: "Bearer id-token-for-test" });
    expect(audiences).toEqual(["https://ws-backend-abc123-ew.a.run.app"]);
    // Without a token source (tests, public services), no header.
    const { router: plain } = await setup();
    expect(await plain.callerHeaders()).toEqual({});
  });

  it("fails clearly, without retrying, on a 400 from the API and on bad credentials", async () => {
    const { api } = await setup();
    const ghost = new CloudRunRouter(
      { project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url },
      V8,
      "ws-backend-v9-9-9",
      authClient(),
      FAST,
      5,
    );
    await expect(ghost.setWeight(5, write("{}"))).rejects.toThrow("Cloud Run services.patch ws-backend: HTTP 400 Revision ws-backend-v9-9-9 does not exist");
    expect(api.requests.filter((r) => r.method === "PATCH").length).toBe(1);
    const unauth = new CloudRunRouter(
      { project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url },
      "a",
      "b",
      authClient("wrong"),
      FAST,
      5,
    );
    await expect(unauth.readSplit()).rejects.toThrow(/HTTP 401 Request had invalid authentication credentials/);
  });

  it("gives up after its attempts on a persistent 5xx and on timeouts", async () => {
    const { api, router } = await setup();
    api.faults.push({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    await expect(router.readSplit()).rejects.toThrow(/failed after 4 attempt\(s\): Cloud Run services.get ws-backend: HTTP 500/);
    const slow = new CloudRunRouter(
      { project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url, requestTimeoutMs: 100 },
      V8,
      V9,
      authClient(),
      FAST,
      5,
    );
    api.faults.push({ delayMs: 400 });
    // One timed-out request, then the retry gets through.
    expect(shareOf(await slow.readSplit(), V9)).toBe(0);
    api.faults.push({ delayMs: 400 }, { delayMs: 400 }, { delayMs: 400 }, { delayMs: 400 });
    await expect(slow.readSplit()).rejects.toThrow(/failed after 4 attempt\(s\)/);
  });
});

describe("HTTPRoute router (Kubernetes API contract, @kubernetes/client-node)", () => {
  async function setup(requestTimeoutMs?: number) {
    const api = await fakeKubernetes("agents", "orchestrator", ["orchestrator-blue", "orchestrator-green"]);
    servers.push(api);
    const router = new HttpRouteRouter(
      {
        namespace: "agents",
        name: "orchestrator",
        ruleIndex: 0,
        stableBackend: "orchestrator-blue",
        candidateBackend: "orchestrator-green",
        kubeconfig: api.kubeconfig,
        ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
      },
      FAST,
    );
    return { api, router };
  }
  const rule = (api: Awaited<ReturnType<typeof fakeKubernetes>>) =>
    (api.state.route.spec["rules"] as { backendRefs: { name: string; weight?: number }[]; matches: unknown[] }[])[0]!;

  it("merge-patches the weights with the resourceVersion and keeps the rest of the route", async () => {
    const { api, router } = await setup();
    await router.prepare(write("{}"));
    expect(shareOf(await router.readSplit(), "orchestrator-green")).toBe(0);
    await router.setWeight(100, write('{"c":1}'));
    expect(rule(api).backendRefs.map((b) => [b.name, b.weight])).toEqual([
      ["orchestrator-blue", 0],
      ["orchestrator-green", 100],
    ]);
    expect(rule(api).matches).toEqual([{ path: { type: "PathPrefix", value: "/" } }]);
    expect(api.state.route.spec["parentRefs"]).toEqual([{ name: "agents" }]);
    expect(api.state.route.metadata.annotations?.[CHECKPOINT_ANNOTATION]).toBe('{"c":1}');
    const patch = api.requests.filter((r) => r.method === "PATCH").at(-1)!;
    expect(patch.headers["content-type"]).toBe("application/merge-patch+json");
    expect((patch.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion).toBe("101");
    expect(await router.readCheckpoint()).toBe('{"c":1}');
  });

  it("another backendRef stays in the rule; its weight counts in the split the guard sees", async () => {
    const { api, router } = await setup();
    rule(api).backendRefs.push({ name: "orchestrator-canary-2", weight: 0 });
    await router.setWeight(20, write("{}"));
    expect(rule(api).backendRefs.map((b) => [b.name, b.weight])).toEqual([
      ["orchestrator-blue", 80],
      ["orchestrator-green", 20],
      ["orchestrator-canary-2", 0],
    ]);
    // A missing weight is 1 in the Gateway API: someone else's ref without one carries traffic.
    delete rule(api).backendRefs[2]!.weight;
    expect(shareOf(await router.readSplit(), "orchestrator-canary-2")).toBeCloseTo((100 * 1) / 101, 5);
  });

  it("a ref of the same name in another namespace (or of another kind) is another arm: never moved, and its traffic is drift", async () => {
    const { api, router } = await setup();
    const refs = rule(api).backendRefs as Record<string, unknown>[];
    refs.push(
      { name: "orchestrator-green", namespace: "other-team", port: 8080, weight: 0 },
      { name: "orchestrator-green", kind: "ServiceImport", group: "multicluster.x-k8s.io", weight: 0 },
    );
    await router.setWeight(100, write("{}"));
    expect(refs.length).toBe(4);
    expect(rule(api).backendRefs.map((b) => b.weight)).toEqual([0, 100, 0, 0]);
    // Someone sends traffic to the other team's Service: the release sees a third arm, not its own candidate.
    (rule(api).backendRefs[2] as { weight: number }).weight = 50;
    const live = await router.readSplit();
    expect(shareOf(live, "orchestrator-green")).toBeCloseTo((100 * 100) / 150, 5);
    expect(shareOf(live, "core/Service/other-team/orchestrator-green:8080")).toBeCloseTo((100 * 50) / 150, 5);
  });

  it("two refs to one arm are refused: which of them the release moves would be a guess", async () => {
    const { api, router } = await setup();
    rule(api).backendRefs.push({ name: "orchestrator-green", weight: 0 });
    await expect(router.readSplit()).rejects.toThrow(
      "httproute agents/orchestrator rule 0 has 2 backendRefs to Service orchestrator-green: the release moves exactly one; remove the others",
    );
    await expect(router.setWeight(10, write("{}"))).rejects.toThrow(/has 2 backendRefs to Service orchestrator-green/);
    expect(rule(api).backendRefs.map((b) => b.weight)).toEqual([100, 0, 0]);
  });

  it("re-reads and retries on a 409 conflict and on 429/5xx; weights changed by another writer reach the guard", async () => {
    const { api, router } = await setup();
    api.faults.push({ status: 429 });
    await router.setWeight(10, write("{}"));
    api.state.concurrentWriteBeforeNextPatch = true;
    api.faults.push({ status: 500, method: "GET" });
    const patches = api.requests.filter((r) => r.method === "PATCH").length;
    await router.setWeight(50, write("{}"));
    expect(shareOf(await router.readSplit(), "orchestrator-green")).toBe(50);
    expect(api.requests.filter((r) => r.method === "PATCH").length).toBe(patches + 2);
    api.state.beforeNextPatch = (st) => ((st.route.spec["rules"] as { backendRefs: { weight: number }[] }[])[0]!.backendRefs[1]!.weight = 90);
    const w = write("{}", (live) => shareOf(live, "orchestrator-green") !== 50);
    await expect(router.setWeight(75, w)).rejects.toBeInstanceOf(SplitChanged);
    expect(rule(api).backendRefs[1]!.weight).toBe(90);
  });

  it("every API call has a timeout: a hung server is abandoned and retried", async () => {
    const { api, router } = await setup(150);
    api.faults.push({ delayMs: 2_000 });
    const t0 = Date.now();
    expect(shareOf(await router.readSplit(), "orchestrator-green")).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it("names the missing backend and does not retry a permanent error", async () => {
    const { api } = await setup();
    const wrong = new HttpRouteRouter(
      { namespace: "agents", name: "orchestrator", ruleIndex: 0, stableBackend: "orchestrator-blue", candidateBackend: "nope", kubeconfig: api.kubeconfig },
      FAST,
    );
    await expect(wrong.readSplit()).rejects.toThrow("httproute agents/orchestrator rule 0 has no backendRef to Service nope in namespace agents");
    const missing = new HttpRouteRouter(
      { namespace: "agents", name: "ghost", ruleIndex: 0, stableBackend: "a", candidateBackend: "b", kubeconfig: api.kubeconfig },
      FAST,
    );
    await expect(missing.readSplit()).rejects.toThrow(/HTTP 404/);
  });
});

describe("retries: one classifier, hints capped, deadlines kept", () => {
  it("a Retry-After is a capped hint; missing, zero or unreadable is no hint; only retryable answers carry one", () => {
    expect(httpError("x", 429, "slow down", "86400").retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    expect(httpError("x", 429, "slow down", "2").retryAfterMs).toBe(2000);
    for (const h of [undefined, null, "0", "-5", "soon"]) expect(httpError("x", 429, "slow down", h).retryAfterMs).toBeUndefined();
    expect(httpError("x", 400, "bad", "5")).toMatchObject({ retryable: false, retryAfterMs: undefined });
    expect(httpError("x", undefined, "socket hang up")).toMatchObject({ retryable: true, message: "x: socket hang up" });
    expect(httpError("x", 409, "conflict").retryable).toBe(true);
  });

  it("never sleeps past the deadline it is given", async () => {
    const t0 = Date.now();
    let attempts = 0;
    const failing = async () => {
      attempts++;
      throw new RouterError("busy", true, 20_000);
    };
    await expect(withRetry("call", failing, { attempts: 5, baseDelayMs: 10, maxDelayMs: 10 }, Date.now() + 200)).rejects.toThrow(
      /stopped before the deadline: busy/,
    );
    expect(attempts).toBe(1);
    expect(Date.now() - t0).toBeLessThan(150);
  });

  it("an adapter's retry policy carries the rollout's end: a Vercel 429 asking for 20 s is not waited for past it", async () => {
    const api = await fakeVercel("prj_1", "dpl_stable", [5, 100]);
    servers.push(api);
    const f = new VercelFollower(
      { projectId: "prj_1", token: "vercel-test-token", canaryDeploymentId: "dpl_canary", stableDeploymentId: "dpl_stable", endpoint: api.url },
      { ...FAST, deadline: Date.now() + 1_000 },
    );
    api.faults.push({ status: 429, headers: { "retry-after": "20" } });
    const t0 = Date.now();
    await expect(f.rollback()).rejects.toThrow(/stopped before the deadline: vercel POST .*HTTP 429/);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});

describe("Vercel rolling-release follower (REST contract)", () => {
  it("starts, approves stages in lockstep with the backend weights, then completes", async () => {
    const api = await fakeVercel("prj_1", "dpl_stable", [5, 25, 50, 100]);
    servers.push(api);
    const f = new VercelFollower(
      { projectId: "prj_1", token: "vercel-test-token", canaryDeploymentId: "dpl_canary", stableDeploymentId: "dpl_stable", endpoint: api.url },
      FAST,
    );
    await f.setWeight(5);
    expect(api.state.rollingRelease?.activeStage?.index).toBe(0);
    await f.setWeight(10);
    expect(api.state.rollingRelease?.activeStage?.index).toBe(0);
    await f.setWeight(25);
    expect(api.state.rollingRelease?.activeStage?.index).toBe(1);
    await f.setWeight(50);
    expect(api.state.rollingRelease?.activeStage?.index).toBe(2);
    await f.setWeight(100);
    expect(api.state.rollingRelease?.state).toBe("COMPLETE");
    expect(api.state.productionDeployment).toBe("dpl_canary");
    expect(api.requests.every((r) => r.headers.authorization === "Bearer vercel-test-token")).toBe(true);
  });

  it("rolls back by pointing production at the stable deployment, retrying a 429", async () => {
    const api = await fakeVercel("prj_1", "dpl_stable", [5, 100]);
    servers.push(api);
    const f = new VercelFollower(
      {
        projectId: "prj_1",
        teamId: "team_9",
        token: "vercel-test-token",
        canaryDeploymentId: "dpl_canary",
        stableDeploymentId: "dpl_stable",
        endpoint: api.url,
      },
      FAST,
    );
    await f.setWeight(5);
    api.faults.push({ status: 429, headers: { "retry-after": "0" } });
    await f.rollback();
    expect(api.state.rollingRelease?.state).toBe("ABORTED");
    expect(api.state.productionDeployment).toBe("dpl_stable");
    expect(api.requests.every((r) => r.path.includes("teamId=team_9"))).toBe(true);
  });

  it("never starts over another rolling release that is in progress", async () => {
    const api = await fakeVercel("prj_1", "dpl_stable", [5, 100]);
    servers.push(api);
    const other = new VercelFollower(
      { projectId: "prj_1", token: "vercel-test-token", canaryDeploymentId: "dpl_someone_else", stableDeploymentId: "dpl_stable", endpoint: api.url },
      FAST,
    );
    await other.setWeight(5);
    const posts = api.requests.filter((r) => r.method === "POST").length;
    const f = new VercelFollower(
      { projectId: "prj_1", token: "vercel-test-token", canaryDeploymentId: "dpl_canary", stableDeploymentId: "dpl_stable", endpoint: api.url },
      FAST,
    );
    await expect(f.setWeight(5)).rejects.toThrow(
      "vercel project prj_1: another rolling release is active (canary dpl_someone_else); complete or abort it before this release",
    );
    expect(api.requests.filter((r) => r.method === "POST").length).toBe(posts);
  });

  it("reports Vercel's error message on a rejected call", async () => {
    const api = await fakeVercel("prj_1", "dpl_stable", [5, 100]);
    servers.push(api);
    const f = new VercelFollower(
      { projectId: "prj_1", token: "wrong", canaryDeploymentId: "dpl_canary", stableDeploymentId: "dpl_stable", endpoint: api.url },
      FAST,
    );
    await expect(f.setWeight(5)).rejects.toThrow("vercel GET /v1/projects/prj_1/rolling-release: HTTP 403 Not authorized");
  });
});
