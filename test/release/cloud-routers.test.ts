import { OAuth2Client } from "google-auth-library";
import { afterEach, describe, expect, it } from "vitest";
import { CHECKPOINT_ANNOTATION, CloudRunRouter } from "../../src/release/routers/cloudRun";
import { HttpRouteRouter } from "../../src/release/routers/httpRoute";
import { VercelFollower } from "../../src/release/routers/vercel";
import { fakeCloudRun, fakeKubernetes, fakeVercel, type FakeServer } from "../support/fakeApis";

const FAST = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** google-auth-library's real client, holding a short-lived access token as ADC would produce. */
function authClient(token = "test-access-token") {
  const c = new OAuth2Client();
  c.setCredentials({ access_token: token, expiry_date: Date.now() + 3_600_000 });
  return c;
}

describe("Cloud Run router (Admin API v2 contract, google-auth-library)", () => {
  async function setup() {
    const api = await fakeCloudRun("acme", "europe-west1", "ws-backend", ["ws-backend-v1-8-0", "ws-backend-v1-9-0"]);
    servers.push(api);
    const router = new CloudRunRouter({ project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url }, "ws-backend-v1-8-0", "ws-backend-v1-9-0", authClient(), FAST, 5);
    return { api, router };
  }

  it("tags the candidate at 0%, moves weights summing to 100 and stores the checkpoint in the same patch", async () => {
    const { api, router } = await setup();
    await router.prepare();
    expect(api.state.traffic).toEqual([
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: "ws-backend-v1-8-0", percent: 100, tag: "stable" },
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: "ws-backend-v1-9-0", percent: 0, tag: "candidate" },
    ]);
    expect(await router.candidateUrl()).toBe("https://candidate---ws-backend-abc123-ew.a.run.app");
    const patchesBefore = api.requests.filter((r) => r.method === "PATCH").length;
    await router.setWeight(10, '{"step":1}');
    expect(api.state.traffic.map((t) => t.percent)).toEqual([90, 10]);
    expect(api.state.annotations[CHECKPOINT_ANNOTATION]).toBe('{"step":1}');
    expect(api.requests.filter((r) => r.method === "PATCH").length).toBe(patchesBefore + 1);
    const patch = api.requests.filter((r) => r.method === "PATCH").at(-1)!;
    expect(patch.path).toContain("updateMask=traffic,annotations");
    expect((patch.body as { etag: string }).etag).toMatch(/^"\d+"$/);
    // The long-running operation was polled until done.
    expect(api.requests.some((r) => r.path.includes("/operations/"))).toBe(true);
    expect(await router.currentWeight()).toBe(10);
    expect(await router.readCheckpoint()).toBe('{"step":1}');
    await router.rollback('{"phase":"rolled-back"}');
    expect(api.state.traffic.map((t) => t.percent)).toEqual([100, 0]);
  });

  it("rebases on a concurrent change (409 etag mismatch) and retries 429 and 503", async () => {
    const { api, router } = await setup();
    api.faults.push({ status: 429, headers: { "retry-after": "0" } }, { status: 503 });
    await router.setWeight(25, "{}");
    expect(api.state.traffic.map((t) => t.percent)).toEqual([75, 25]);
    // Someone else changes the service between our GET and PATCH: the etag no longer matches.
    api.state.concurrentWriteBeforeNextPatch = true;
    const patches = api.requests.filter((r) => r.method === "PATCH").length;
    await router.setWeight(50, "{}");
    expect(api.state.traffic.map((t) => t.percent)).toEqual([50, 50]);
    expect(api.requests.filter((r) => r.method === "PATCH").length).toBe(patches + 2);
  });

  it("fails clearly, without retrying, on a 400 from the API and on bad credentials", async () => {
    const { api } = await setup();
    const ghost = new CloudRunRouter({ project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url }, "ws-backend-v1-8-0", "ws-backend-v9-9-9", authClient(), FAST, 5);
    await expect(ghost.setWeight(5, "{}")).rejects.toThrow("Cloud Run services.patch ws-backend: HTTP 400 Revision ws-backend-v9-9-9 does not exist");
    const patches = api.requests.filter((r) => r.method === "PATCH").length;
    expect(patches).toBe(1);
    const unauth = new CloudRunRouter({ project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url }, "a", "b", authClient("wrong"), FAST, 5);
    await expect(unauth.currentWeight()).rejects.toThrow(/HTTP 401 Request had invalid authentication credentials/);
  });

  it("gives up after its attempts on a persistent 5xx and on timeouts", async () => {
    const { api, router } = await setup();
    api.faults.push({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
    await expect(router.currentWeight()).rejects.toThrow(/failed after 4 attempt\(s\): Cloud Run services.get ws-backend: HTTP 500/);
    const slow = new CloudRunRouter({ project: "acme", region: "europe-west1", service: "ws-backend", endpoint: api.url, requestTimeoutMs: 100 }, "ws-backend-v1-8-0", "ws-backend-v1-9-0", authClient(), FAST, 5);
    api.faults.push({ delayMs: 400 });
    // One timed-out request, then the retry gets through.
    expect(await slow.currentWeight()).toBe(0);
    api.faults.push({ delayMs: 400 }, { delayMs: 400 }, { delayMs: 400 }, { delayMs: 400 });
    await expect(slow.currentWeight()).rejects.toThrow(/failed after 4 attempt\(s\)/);
  });
});

describe("HTTPRoute router (Kubernetes API contract, @kubernetes/client-node)", () => {
  async function setup() {
    const api = await fakeKubernetes("agents", "orchestrator", ["orchestrator-blue", "orchestrator-green"]);
    servers.push(api);
    const router = new HttpRouteRouter({ namespace: "agents", name: "orchestrator", ruleIndex: 0, stableBackend: "orchestrator-blue", candidateBackend: "orchestrator-green", kubeconfig: api.kubeconfig }, FAST);
    return { api, router };
  }

  it("merge-patches the weights with the resourceVersion and keeps the rest of the route", async () => {
    const { api, router } = await setup();
    await router.prepare();
    expect(await router.currentWeight()).toBe(0);
    await router.setWeight(100, '{"c":1}');
    const rule = (api.state.route.spec["rules"] as { backendRefs: { name: string; weight: number }[]; matches: unknown[] }[])[0]!;
    expect(rule.backendRefs.map((b) => [b.name, b.weight])).toEqual([
      ["orchestrator-blue", 0],
      ["orchestrator-green", 100],
    ]);
    expect(rule.matches).toEqual([{ path: { type: "PathPrefix", value: "/" } }]);
    expect(api.state.route.spec["parentRefs"]).toEqual([{ name: "agents" }]);
    expect(api.state.route.metadata.annotations?.["delivery.progressive.dev/rollout"]).toBe('{"c":1}');
    const patch = api.requests.find((r) => r.method === "PATCH")!;
    expect(patch.headers["content-type"]).toBe("application/merge-patch+json");
    expect((patch.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion).toBe("100");
    expect(await router.readCheckpoint()).toBe('{"c":1}');
  });

  it("re-reads and retries on a 409 conflict and on 429/5xx", async () => {
    const { api, router } = await setup();
    api.faults.push({ status: 429 });
    await router.setWeight(10, "{}");
    // A concurrent writer bumps the resourceVersion: our PATCH (computed from the old one) gets 409; we re-read and retry.
    api.state.concurrentWriteBeforeNextPatch = true;
    api.faults.push({ status: 500, method: "GET" });
    const patches = api.requests.filter((r) => r.method === "PATCH").length;
    await router.setWeight(50, "{}");
    expect(await router.currentWeight()).toBe(50);
    expect(api.requests.filter((r) => r.method === "PATCH").length).toBe(patches + 2);
  });

  it("names the missing backend and does not retry a permanent error", async () => {
    const { api } = await setup();
    const wrong = new HttpRouteRouter({ namespace: "agents", name: "orchestrator", ruleIndex: 0, stableBackend: "orchestrator-blue", candidateBackend: "nope", kubeconfig: api.kubeconfig }, FAST);
    await expect(wrong.prepare()).rejects.toThrow("httproute agents/orchestrator rule 0 has no backendRef named nope");
    const missing = new HttpRouteRouter({ namespace: "agents", name: "ghost", ruleIndex: 0, stableBackend: "a", candidateBackend: "b", kubeconfig: api.kubeconfig }, FAST);
    await expect(missing.currentWeight()).rejects.toThrow(/HTTP 404/);
  });
});

describe("Vercel rolling-release follower (REST contract)", () => {
  it("starts, approves stages in lockstep with the backend weights, then completes", async () => {
    const api = await fakeVercel("prj_1", "dpl_stable", [5, 25, 50, 100]);
    servers.push(api);
    const f = new VercelFollower({ projectId: "prj_1", token: "vercel-test-token", canaryDeploymentId: "dpl_canary", stableDeploymentId: "dpl_stable", endpoint: api.url }, FAST);
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
    const f = new VercelFollower({ projectId: "prj_1", teamId: "team_9", token: "vercel-test-token", canaryDeploymentId: "dpl_canary", stableDeploymentId: "dpl_stable", endpoint: api.url }, FAST);
    await f.setWeight(5);
    api.faults.push({ status: 429, headers: { "retry-after": "0" } });
    await f.rollback();
    expect(api.state.rollingRelease?.state).toBe("ABORTED");
    expect(api.state.productionDeployment).toBe("dpl_stable");
    expect(api.requests.every((r) => r.path.includes("teamId=team_9"))).toBe(true);
  });

  it("reports Vercel's error message on a rejected call", async () => {
    const api = await fakeVercel("prj_1", "dpl_stable", [5, 100]);
    servers.push(api);
    const f = new VercelFollower({ projectId: "prj_1", token: "wrong", canaryDeploymentId: "dpl_canary", stableDeploymentId: "dpl_stable", endpoint: api.url }, FAST);
    await expect(f.setWeight(5)).rejects.toThrow("vercel GET /v1/projects/prj_1/rolling-release: HTTP 403 Not authorized");
  });
});
