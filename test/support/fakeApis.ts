import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/**
 * Local HTTP servers that follow the documented request/response contracts
 * of the Cloud Run Admin API v2, the Kubernetes API (HTTPRoute custom
 * objects) and Vercel's rolling-release endpoints, with fault injection.
 * Loopback only.
 */

/** An injected answer for the next request (of `method`, when given). */
export type Fault = ({ status: number; body?: unknown; headers?: Record<string, string> } | { delayMs: number }) & { method?: string };

export interface FakeServer {
  url: string;
  server: Server;
  requests: { method: string; path: string; headers: IncomingMessage["headers"]; body: unknown }[];
  /** Faults served, in order, before normal handling. */
  faults: Fault[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

async function serve(handler: (req: IncomingMessage, body: unknown, res: ServerResponse) => void | Promise<void>): Promise<FakeServer> {
  const fake = { requests: [], faults: [] } as unknown as FakeServer;
  const server = createServer(
    (req, res) =>
      void (async () => {
        const body = await readBody(req);
        fake.requests.push({ method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers, body });
        const i = fake.faults.findIndex((f) => f.method === undefined || f.method === req.method);
        const fault = i >= 0 ? fake.faults.splice(i, 1)[0] : undefined;
        if (fault && "delayMs" in fault) {
          await new Promise((r) => setTimeout(r, fault.delayMs));
        } else if (fault) {
          return send(res, fault.status, fault.body ?? { error: { code: fault.status, message: `injected ${fault.status}` } }, fault.headers);
        }
        await handler(req, body, res);
      })(),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.server = server;
  fake.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  fake.close = () => new Promise((r) => server.close(() => r()));
  return fake;
}

// ---------------------------------------------------------------- Cloud Run

export interface CloudRunState {
  name: string;
  etag: number;
  revisions: string[];
  traffic: { type: string; revision?: string; percent?: number; tag?: string }[];
  annotations: Record<string, string>;
  /** Polls before an operation reports done. */
  opPolls: number;
  /** Simulates another writer changing the service between our GET and our PATCH. */
  concurrentWriteBeforeNextPatch: boolean;
  /** Another writer's change (e.g. to the traffic) made between our GET and our next PATCH. */
  beforeNextPatch?: (state: CloudRunState) => void;
}

export async function fakeCloudRun(
  project: string,
  region: string,
  service: string,
  revisions: string[],
  traffic?: CloudRunState["traffic"],
): Promise<FakeServer & { state: CloudRunState }> {
  const state: CloudRunState = {
    name: `projects/${project}/locations/${region}/services/${service}`,
    etag: 1,
    revisions,
    traffic: traffic ?? [{ type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: revisions[0], percent: 100 }],
    annotations: {},
    opPolls: 2,
    concurrentWriteBeforeNextPatch: false,
  };
  const ops = new Map<string, number>();
  const view = () => ({
    name: state.name,
    etag: `"${state.etag}"`,
    annotations: state.annotations,
    traffic: state.traffic,
    trafficStatuses: state.traffic.map((t) => ({ ...t, ...(t.tag ? { uri: `https://${t.tag}---${service}-abc123-ew.a.run.app` } : {}) })),
    uri: `https://${service}-abc123-ew.a.run.app`,
  });
  const fake = await serve((req, body, res) => {
    if (req.headers.authorization !== "Bearer test-access-token")
      return send(res, 401, { error: { code: 401, message: "Request had invalid authentication credentials.", status: "UNAUTHENTICATED" } });
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === `/v2/${state.name}` && req.method === "GET") return send(res, 200, view());
    if (url.pathname === `/v2/${state.name}` && req.method === "PATCH") {
      const b = body as { etag?: string; traffic?: CloudRunState["traffic"]; annotations?: Record<string, string> };
      if (state.concurrentWriteBeforeNextPatch) {
        state.concurrentWriteBeforeNextPatch = false;
        state.etag++;
      }
      if (state.beforeNextPatch) {
        const change = state.beforeNextPatch;
        state.beforeNextPatch = undefined;
        change(state);
        state.etag++;
      }
      if (b.etag !== undefined && b.etag !== `"${state.etag}"`)
        return send(res, 409, { error: { code: 409, message: "The service has been modified since it was read (etag mismatch).", status: "ABORTED" } });
      const mask = (url.searchParams.get("updateMask") ?? "").split(",");
      if (mask.includes("traffic") && b.traffic) {
        const sum = b.traffic.reduce((a, t) => a + (t.percent ?? 0), 0);
        if (sum !== 100) return send(res, 400, { error: { code: 400, message: `Traffic targets sum to ${sum}, want 100`, status: "INVALID_ARGUMENT" } });
        const unknown = b.traffic.find((t) => t.revision && !state.revisions.includes(t.revision));
        if (unknown) return send(res, 400, { error: { code: 400, message: `Revision ${unknown.revision} does not exist`, status: "INVALID_ARGUMENT" } });
        const tags = b.traffic.map((t) => t.tag).filter((t) => t !== undefined);
        const dup = tags.find((t, i) => tags.indexOf(t) !== i);
        if (dup) return send(res, 400, { error: { code: 400, message: `Traffic tag ${dup} is used more than once`, status: "INVALID_ARGUMENT" } });
        state.traffic = b.traffic;
      }
      if (mask.includes("annotations") && b.annotations) state.annotations = b.annotations;
      state.etag++;
      const op = `projects/${project}/locations/${region}/operations/op-${state.etag}`;
      ops.set(op, state.opPolls);
      return send(res, 200, { name: op, done: false, metadata: { "@type": "type.googleapis.com/google.cloud.run.v2.Service" } });
    }
    const opName = url.pathname.replace(/^\/v2\//, "");
    if (ops.has(opName) && req.method === "GET") {
      const left = ops.get(opName)! - 1;
      ops.set(opName, left);
      return send(res, 200, { name: opName, done: left <= 0, ...(left <= 0 ? { response: view() } : {}) });
    }
    return send(res, 404, { error: { code: 404, message: `not found: ${url.pathname}`, status: "NOT_FOUND" } });
  });
  return Object.assign(fake, { state });
}

// ---------------------------------------------------------------- Kubernetes

export interface RouteState {
  /** Simulates another writer changing the route between our GET and our PATCH. */
  concurrentWriteBeforeNextPatch?: boolean;
  /** Another writer's change (e.g. to the weights) made between our GET and our next PATCH. */
  beforeNextPatch?: (state: RouteState) => void;
  route: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace: string; resourceVersion: string; annotations?: Record<string, string> };
    spec: Record<string, unknown>;
  };
}

function mergePatch(target: unknown, patch: unknown): unknown {
  // RFC 7386: objects merge, null deletes, anything else (arrays included) replaces.
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export async function fakeKubernetes(
  namespace: string,
  name: string,
  backends: [string, string],
): Promise<FakeServer & { state: RouteState; kubeconfig: string }> {
  const state: RouteState = {
    route: {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name, namespace, resourceVersion: "100" },
      spec: {
        parentRefs: [{ name: "agents" }],
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/" } }],
            backendRefs: [
              { name: backends[0], port: 8080, weight: 100 },
              { name: backends[1], port: 8080, weight: 0 },
            ],
          },
        ],
      },
    },
  };
  const path = `/apis/gateway.networking.k8s.io/v1/namespaces/${namespace}/httproutes/${name}`;
  const status = (code: number, reason: string, message: string) => ({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  });
  const fake = await serve((req, body, res) => {
    if (req.headers.authorization !== "Bearer k8s-test-token") return send(res, 401, status(401, "Unauthorized", "Unauthorized"));
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname !== path)
      return send(res, 404, status(404, "NotFound", `httproutes.gateway.networking.k8s.io "${url.pathname.split("/").pop()}" not found`));
    if (req.method === "GET") return send(res, 200, state.route);
    if (req.method === "PATCH") {
      if (req.headers["content-type"] !== "application/merge-patch+json")
        return send(
          res,
          415,
          status(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        );
      if (state.concurrentWriteBeforeNextPatch) {
        state.concurrentWriteBeforeNextPatch = false;
        state.route.metadata.resourceVersion = String(Number(state.route.metadata.resourceVersion) + 1);
      }
      if (state.beforeNextPatch) {
        const change = state.beforeNextPatch;
        state.beforeNextPatch = undefined;
        change(state);
        state.route.metadata.resourceVersion = String(Number(state.route.metadata.resourceVersion) + 1);
      }
      const rv = (body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
      if (rv !== undefined && rv !== state.route.metadata.resourceVersion) {
        return send(
          res,
          409,
          status(
            409,
            "Conflict",
            `Operation cannot be fulfilled on httproutes.gateway.networking.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          ),
        );
      }
      const next = mergePatch(state.route, body) as RouteState["route"];
      next.metadata.resourceVersion = String(Number(state.route.metadata.resourceVersion) + 1);
      state.route = next;
      return send(res, 200, state.route);
    }
    return send(res, 405, status(405, "MethodNotAllowed", "method not allowed"));
  });
  const kubeconfig = JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster: { server: fake.url, "insecure-skip-tls-verify": true } }],
    users: [{ name: "fake", user: { token: "k8s-test-token" } }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "fake" } }],
    "current-context": "fake",
  });
  return Object.assign(fake, { state, kubeconfig });
}

// ---------------------------------------------------------------- Vercel

export interface VercelState {
  productionDeployment: string;
  rollingRelease: {
    state: "ACTIVE" | "COMPLETE" | "ABORTED";
    canaryDeployment: { id: string } | null;
    currentDeployment: { id: string };
    activeStage: { index: number; targetPercentage: number } | null;
    stages: { index: number; targetPercentage: number }[];
  } | null;
  stages: number[];
}

export async function fakeVercel(projectId: string, stableDeployment: string, stages: number[]): Promise<FakeServer & { state: VercelState }> {
  const state: VercelState = { productionDeployment: stableDeployment, rollingRelease: null, stages };
  const base = `/v1/projects/${projectId}`;
  const fake = await serve((req, body, res) => {
    if (req.headers.authorization !== "Bearer vercel-test-token") return send(res, 403, { error: { code: "forbidden", message: "Not authorized" } });
    const url = new URL(req.url ?? "/", "http://x");
    const b = (body ?? {}) as { canaryDeploymentId?: string; nextStageIndex?: number };
    const rr = state.rollingRelease;
    if (url.pathname === `${base}/rolling-release` && req.method === "GET") return send(res, 200, { rollingRelease: rr });
    if (url.pathname === `${base}/rolling-release/start` && req.method === "POST") {
      if (rr?.state === "ACTIVE" && rr.canaryDeployment?.id === b.canaryDeploymentId) return send(res, 200, { rollingRelease: rr });
      state.rollingRelease = {
        state: "ACTIVE",
        canaryDeployment: { id: b.canaryDeploymentId! },
        currentDeployment: { id: state.productionDeployment },
        activeStage: { index: 0, targetPercentage: stages[0]! },
        stages: stages.map((p, i) => ({ index: i, targetPercentage: p })),
      };
      return send(res, 200, { rollingRelease: state.rollingRelease });
    }
    if (url.pathname === `${base}/rolling-release/approve-stage` && req.method === "POST") {
      if (!rr || rr.state !== "ACTIVE" || rr.canaryDeployment?.id !== b.canaryDeploymentId)
        return send(res, 400, { error: { code: "bad_request", message: "No active rolling release for this canary deployment" } });
      if (typeof b.nextStageIndex !== "number" || b.nextStageIndex <= (rr.activeStage?.index ?? 0) || b.nextStageIndex >= stages.length)
        return send(res, 400, { error: { code: "bad_request", message: `Invalid nextStageIndex ${b.nextStageIndex}` } });
      rr.activeStage = { index: b.nextStageIndex, targetPercentage: stages[b.nextStageIndex]! };
      return send(res, 200, { rollingRelease: rr });
    }
    if (url.pathname === `${base}/rolling-release/complete` && req.method === "POST") {
      if (!rr || rr.canaryDeployment?.id !== b.canaryDeploymentId)
        return send(res, 400, { error: { code: "bad_request", message: "No active rolling release for this canary deployment" } });
      rr.state = "COMPLETE";
      state.productionDeployment = b.canaryDeploymentId!;
      return send(res, 200, { rollingRelease: rr });
    }
    const rollback = new RegExp(`^${base}/rollback/([^/]+)$`).exec(url.pathname);
    if (rollback && req.method === "POST") {
      state.productionDeployment = decodeURIComponent(rollback[1]!);
      if (rr && rr.state === "ACTIVE") rr.state = "ABORTED";
      return send(res, 201, {});
    }
    return send(res, 404, { error: { code: "not_found", message: `not found: ${url.pathname}` } });
  });
  return Object.assign(fake, { state });
}
