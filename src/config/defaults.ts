import type { Environment, StackConfig } from "./schema";

type DeepPartial<T> = T extends readonly (infer _U)[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
export type ConfigLayer = DeepPartial<StackConfig>;

/**
 * Environment defaults from the source requirements. A stack file sets only
 * what differs from these; arrays in a stack file replace, objects merge.
 */

const smokeTests = { paths: ["/health", "/ready"], websocketPath: "/ws", retries: 3, failFast: true };

/** The analysis defaults every strategy with an analysis block starts from (and the emergency path uses). */
export const ANALYSIS_DEFAULTS = {
  guardrails: { errorRate: 0.05, p95LatencyMs: 2000, consecutiveHealthFailures: 3 },
  // Per-step criteria from the requirements: strict by 50%, looser at the first steps.
  stepCriteria: {
    "10": { errorRate: 0.01, p95LatencyMs: 500 },
    "50": { errorRate: 0.005, p95LatencyMs: 300 },
  },
  alpha: 0.05,
  comparativeMargin: 0.1,
  expectedRps: 50,
  // The evidence rule's floor: no analysed step (blue-green's bake included) passes on fewer candidate requests.
  minRequests: 50,
  onInconclusive: "rollback" as const,
  metricsUnavailableLimitSeconds: 300,
} as const;

/** Long enough for requests in flight to finish after a statistical rollback; WebSockets still open then are closed. */
const drainSeconds = 30;

type Strategy = StackConfig["release"]["strategy"];

/** Release defaults by strategy; an environment may tweak its own strategy's block. */
const strategyDefaults: Record<Strategy, ConfigLayer["release"]> = {
  direct: { strategy: "direct", smokeTests },
  "blue-green": {
    strategy: "blue-green",
    smokeTests,
    switch: { mode: "immediate" },
    bakeSeconds: 300,
    autoRollback: true,
    analysis: ANALYSIS_DEFAULTS,
    drainSeconds,
  },
  canary: {
    strategy: "canary",
    smokeTests,
    steps: [5, 10, 25, 50, 100],
    bakeSeconds: 300,
    maxStepSeconds: 1800,
    autoRollback: true,
    manualApproval: false,
    analysis: ANALYSIS_DEFAULTS,
    drainSeconds,
  },
};

const common: ConfigLayer = {
  network: { subnetCidr: "10.10.0.0/20", podsCidr: "10.20.0.0/14", servicesCidr: "10.24.0.0/20", masterCidr: "172.16.0.0/28", proxyCidr: "10.129.0.0/23" },
  cluster: {
    mode: "gke",
    name: "delivery",
    releaseChannel: "REGULAR",
    machineType: "e2-standard-4",
    diskSizeGb: 100,
    deletionProtection: true,
  },
  workloads: {
    cpuTargetPercent: 70,
    gatewayClassName: "gke-l7-rilb",
    // Google APIs through Private Google Access's private.googleapis.com range (with *.googleapis.com pointed there in DNS).
    egress: [{ name: "google-apis", cidr: "199.36.153.8/30", ports: [443] }],
  },
  backend: {
    name: "ws-backend",
    cpuTargetPercent: 70,
    concurrency: 250,
    timeoutSeconds: 3600,
    ingress: "INGRESS_TRAFFIC_ALL",
    // Private unless an environment says otherwise: only production's browsers reach the backend directly.
    public: false,
    invokers: [],
    deletionProtection: true,
  },
  monitoring: { emails: [], errorRateThreshold: 0.05, p95LatencyMs: 2000, saturationThreshold: 0.9 },
};

const perEnvironment: Record<Environment, ConfigLayer> = {
  dev: {
    cluster: { regional: false, minNodes: 1, maxNodes: 3, releaseChannel: "RAPID", machineType: "e2-standard-2", deletionProtection: false },
    workloads: { namespace: "agents-dev", replicas: 1, maxReplicas: 2, resources: { cpu: "500m", memory: "1Gi" } },
    backend: { minInstances: 0, maxInstances: 2, resources: { cpu: "1", memory: "1Gi" }, redis: { tier: "BASIC", memorySizeGb: 1 }, deletionProtection: false },
    release: { strategy: "direct", target: "cloud-run" },
    monitoring: { level: "minimal" },
  },
  staging: {
    cluster: { regional: false, minNodes: 1, maxNodes: 5 },
    workloads: { namespace: "agents-staging", replicas: 2, maxReplicas: 5, resources: { cpu: "1000m", memory: "2Gi" } },
    backend: { minInstances: 1, maxInstances: 5, resources: { cpu: "1", memory: "2Gi" }, redis: { tier: "BASIC", memorySizeGb: 2 } },
    release: { strategy: "blue-green", target: "http-route" },
    monitoring: { level: "standard" },
  },
  production: {
    cluster: { regional: true, minNodes: 1, maxNodes: 10, releaseChannel: "STABLE" },
    workloads: { namespace: "agents", replicas: 3, maxReplicas: 20, resources: { cpu: "2000m", memory: "4Gi" } },
    backend: { minInstances: 2, maxInstances: 20, resources: { cpu: "2", memory: "4Gi" }, redis: { tier: "STANDARD_HA", memorySizeGb: 5 }, public: true },
    // The backend is a WebSocket service: message loss is invisible to HTTP metrics, so production probes both revisions.
    release: {
      strategy: "canary",
      target: "cloud-run",
      analysis: { expectedRps: 200, websocketProbe: { path: "/ws", messagesPerSecond: 5, timeoutMs: 2000 } },
    },
    monitoring: { level: "comprehensive" },
    frontend: {
      rollingRelease: {
        advancementType: "automatic",
        stages: [
          { targetPercentage: 5, durationMinutes: 10 },
          { targetPercentage: 25, durationMinutes: 10 },
          { targetPercentage: 50, durationMinutes: 10 },
          { targetPercentage: 100 },
        ],
      },
    },
  },
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Objects merge key by key; anything else (arrays, scalars) in `over` replaces `base`.
 * Keys are defined, never assigned: a `__proto__` key from JSON stays an own key (which the
 * strict schema then reports as unknown) instead of replacing the merged object's prototype.
 */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) setOwn(out, k, v);
  for (const [k, v] of Object.entries(over)) setOwn(out, k, deepMerge(Object.hasOwn(base, k) ? base[k] : undefined, v));
  return out;
}

/** Sets an own, enumerable key, whatever its name (`__proto__` included): config keys come from users. */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The defaults under a stack's own values. The release block starts from the
 * defaults of the strategy the stack chooses, so switching strategy in a
 * stack file does not drag in keys of the environment's usual strategy.
 */
export function withDefaults(environment: Environment, stack: Record<string, unknown>): Record<string, unknown> {
  const { release: _release, ...envRest } = perEnvironment[environment];
  const base = deepMerge(common, { ...envRest, release: releaseDefaults(environment, stack["release"]), environment }) as Record<string, unknown>;
  // An existing cluster takes none of the GKE cluster's defaults (as a release takes only its strategy's).
  if (isPlainObject(stack["cluster"]) && stack["cluster"]["mode"] === "existing") setOwn(base, "cluster", { mode: "existing" });
  const merged = deepMerge(base, stack) as Record<string, unknown>;
  // With frontend.deployments the engine steps Vercel's rolling release itself, which needs manual
  // advancement; an environment's "automatic" default gives way unless the stack chose it.
  const own = isPlainObject(stack["frontend"]) ? stack["frontend"] : {};
  const frontend = merged["frontend"];
  if (own["deployments"] !== undefined && isPlainObject(frontend) && isPlainObject(frontend["rollingRelease"])) {
    const chosen = isPlainObject(own["rollingRelease"]) ? own["rollingRelease"]["advancementType"] : undefined;
    if (chosen === undefined) setOwn(frontend, "rollingRelease", { ...frontend["rollingRelease"], advancementType: "manual-approval" });
  }
  return merged;
}

/** The release block's defaults for the strategy a (partial) release block asks for. */
export function releaseDefaults(environment: Environment, release: unknown): Record<string, unknown> {
  const envRelease = perEnvironment[environment].release!;
  const requested = isPlainObject(release) ? release["strategy"] : undefined;
  const strategy = (typeof requested === "string" && requested in strategyDefaults ? requested : envRelease.strategy) as Strategy;
  return (
    strategy === envRelease.strategy ? deepMerge(strategyDefaults[strategy], envRelease) : { ...strategyDefaults[strategy], target: envRelease.target }
  ) as Record<string, unknown>;
}
