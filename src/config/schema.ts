import { z } from "zod";
import { isInternetWide } from "./addressRanges";
import { kubeconfigProblem } from "./kubeconfig";
import { isPlainHttp, outboundUrlProblem, shownUrl } from "./outbound";
import { GCP_REGIONS } from "./regions";

/**
 * The whole stack configuration, after environment defaults are merged in.
 * This schema is the single source of truth: types are inferred from it, the
 * loader validates against it, and the offline plan reports its errors.
 * Every object is strict so a misspelt key is an error, not a silent default.
 */

export const ENVIRONMENTS = ["dev", "staging", "production"] as const;
export const Environment = z.enum(ENVIRONMENTS);
export type Environment = z.infer<typeof Environment>;

/** Kubernetes CPU quantity: "500m", "1", "1.5". */
const CpuQuantity = z
  .string()
  .regex(/^(\d+m|\d+(\.\d+)?)$/, "a CPU quantity such as 500m or 2")
  .refine((q) => (q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q)) <= 64, "at most 64 CPUs");
/** Kubernetes memory quantity in Mi or Gi: "512Mi", "4Gi". */
const MemoryQuantity = z
  .string()
  .regex(/^\d+(Mi|Gi)$/, "a memory quantity such as 512Mi or 4Gi")
  .refine((q) => Number(q.slice(0, -2)) * (q.endsWith("Gi") ? 1024 : 1) <= 256 * 1024, "at most 256Gi");

/** registry/path/name[:tag][@sha256:digest], lower-case as OCI requires. */
const IMAGE_PATTERN = /^[a-z0-9]+([.-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)+(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
export const ImageRef = z.string().regex(IMAGE_PATTERN, "a container image reference such as europe-docker.pkg.dev/p/repo/app@sha256:<64 hex>");
export const hasDigest = (image: string): boolean => /@sha256:[a-f0-9]{64}$/.test(image);

const DnsLabel = z.string().regex(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/, "a lower-case DNS label (letters, digits, '-'; at most 40 characters)");
const Hostname = z.string().regex(/^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "a fully qualified host name such as app.example.com");
/** An IPv4 CIDR range, parsed: four octets of 0–255, a prefix of 0–32, no host bits set. */
export const Cidr = z.string().superRefine((v, ctx) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || prefix > 32) {
    ctx.addIssue({ code: "custom", message: `an IPv4 CIDR range such as 10.0.0.0/20 (found ${JSON.stringify(v)})` });
    return;
  }
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const host = prefix === 32 ? 0 : address % 2 ** (32 - prefix);
  if (host !== 0) {
    const network = address - host;
    const text = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join(".");
    ctx.addIssue({ code: "custom", message: `${v} has host bits set: the range is ${text}/${prefix}` });
  }
});
const Percent = z.number().int().min(1).max(100);
/** A duration in seconds, at most a day: no release step, bake or limit is longer. */
const Seconds = z.number().int().positive().max(86_400);

export const Region = z.enum(GCP_REGIONS);

export const ProjectId = z.string().regex(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/, "a GCP project id (6-30 characters: lower-case letters, digits, '-')");
/** A Kubernetes object name or namespace (RFC 1123 label): it lands in an API path, so nothing else gets through. */
export const K8sName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "a Kubernetes name (lower-case letters, digits, '-'; at most 63)");

const GcpConfig = z.strictObject({
  project: ProjectId,
  region: Region,
  /** Zone of a zonal cluster; must lie in `region`. */
  zone: z.string().regex(/^[a-z]+-[a-z]+\d+-[a-f]$/, "a GCP zone such as europe-west1-b"),
});

const NetworkConfig = z.strictObject({
  subnetCidr: Cidr,
  podsCidr: Cidr,
  servicesCidr: Cidr,
  /** /28 for the GKE control plane of a private cluster. */
  masterCidr: Cidr,
  /** Proxy-only subnet the internal Gateway's Envoy proxies send from. */
  proxyCidr: Cidr,
});

const AuthorizedNetwork = z.strictObject({ name: z.string().min(1), cidr: Cidr });

const GkeClusterConfig = z.strictObject({
  /** A private GKE Standard cluster this stack declares (and its node pool, IAM, Binary Authorization). */
  mode: z.literal("gke"),
  name: DnsLabel,
  /** Regional clusters replicate the control plane and nodes across zones. */
  regional: z.boolean(),
  releaseChannel: z.enum(["RAPID", "REGULAR", "STABLE"]),
  machineType: z.string().regex(/^[a-z0-9]+-[a-z0-9-]+$/, "a Compute Engine machine type such as e2-standard-4"),
  minNodes: z.number().int().min(0).max(1000),
  maxNodes: z.number().int().min(1).max(1000),
  diskSizeGb: z.number().int().min(10).max(65_536),
  authorizedNetworks: z.array(AuthorizedNetwork).min(1, "at least one network allowed to reach the control plane"),
  deletionProtection: z.boolean(),
});

/** A conformant cluster the team already runs: the stack deploys its Kubernetes part there (kubeconfig: the `kubeconfig` secret). */
const ExistingClusterConfig = z.strictObject({
  mode: z.literal("existing"),
  /** A context of that kubeconfig; default: its current-context. */
  context: z.string().min(1).optional(),
  /** Where the Gateway's data plane connects from (its proxies' ranges): the only sources exposed services accept. */
  gatewaySourceCidrs: z.array(Cidr).default([]),
});

const ClusterConfig = z.discriminatedUnion("mode", [GkeClusterConfig, ExistingClusterConfig]);
export type GkeClusterSettings = z.infer<typeof GkeClusterConfig>;
const Resources = z.strictObject({ cpu: CpuQuantity, memory: MemoryQuantity });

const Slot = z.enum(["blue", "green"]);
export type Slot = z.infer<typeof Slot>;

const AgentService = z.strictObject({
  name: DnsLabel,
  port: z.number().int().min(1024).max(65535),
  /** Routed through the Gateway (blue/green target); otherwise cluster-internal only. */
  expose: z.boolean().default(false),
  /** Image per slot; the idle slot may be absent until a release puts a candidate there. */
  images: z
    .strictObject({ blue: ImageRef.optional(), green: ImageRef.optional() })
    .refine((i) => i.blue !== undefined || i.green !== undefined, "at least one of blue or green"),
  /** The slot serving traffic when the route is first created. */
  activeSlot: Slot.default("blue"),
  /** Agents this one calls; NetworkPolicy allows exactly these egress paths. */
  talksTo: z.array(DnsLabel).default([]),
});
export type AgentService = z.infer<typeof AgentService>;

const WorkloadsConfig = z.strictObject({
  namespace: DnsLabel.refine((n) => !/^(kube-.*|default)$/.test(n), "default and kube-* belong to the cluster: give the workloads a namespace of their own"),
  replicas: z.number().int().min(1).max(1000),
  maxReplicas: z.number().int().min(1).max(1000),
  cpuTargetPercent: Percent,
  resources: Resources,
  /** A GatewayClass name: a DNS subdomain (RFC 1123), as the API server requires. */
  gatewayClassName: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "a GatewayClass name (lower-case letters, digits, '-' and '.')")
    .max(253),
  hostname: Hostname.optional(),
  services: z.array(AgentService).min(1),
  /** Where the agents may connect outside the cluster (besides DNS and the metadata server): nothing else. */
  egress: z.array(z.strictObject({ name: DnsLabel, cidr: Cidr, ports: z.array(z.number().int().min(1).max(65535)).min(1).max(20) })).max(50),
});

const BackendResources = z.strictObject({
  /** Cloud Run CPU: "1", "2", "4", "6", "8" (below 1 needs concurrency 1). */
  cpu: z.enum(["1", "2", "4", "6", "8"]),
  memory: MemoryQuantity,
});

const BackendConfig = z.strictObject({
  name: DnsLabel,
  image: ImageRef,
  /** Release version; the Cloud Run revision name is derived from it. */
  version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.-]{0,29}$/, "a release version such as 1.4.2 or 2026-11-22.1"),
  /** The version serving today; when set and different from `version`, the release engine shifts traffic from it. */
  stableVersion: z
    .string()
    .regex(/^[0-9A-Za-z][0-9A-Za-z.-]{0,29}$/, "a release version such as 1.4.2")
    .optional(),
  minInstances: z.number().int().min(0).max(1000),
  maxInstances: z.number().int().min(1).max(1000),
  cpuTargetPercent: Percent,
  /** Each open WebSocket holds one concurrent request. */
  concurrency: z.number().int().min(1).max(1000),
  /** Upper bound of a WebSocket's life; Cloud Run allows at most 3600 s. */
  timeoutSeconds: z.number().int().min(1).max(3600),
  resources: BackendResources,
  ingress: z.enum(["INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"]),
  /** Declared public: allUsers may invoke (browsers connect directly). */
  public: z.boolean(),
  /** Extra invokers, as IAM members (user:, group:, serviceAccount:). */
  invokers: z.array(z.string().regex(/^(user|group|serviceAccount|domain):.+$/, "an IAM member such as group:ops@example.com")),
  redis: z.strictObject({
    tier: z.enum(["BASIC", "STANDARD_HA"]),
    memorySizeGb: z.number().int().min(1).max(300),
  }),
  deletionProtection: z.boolean(),
});

const FrontendConfig = z.strictObject({
  projectName: z.string().regex(/^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$/, "a Vercel project name (lower-case)"),
  domain: Hostname,
  teamId: z.string().min(1).optional(),
  gitRepository: z.strictObject({ type: z.enum(["github", "gitlab", "bitbucket"]), repo: z.string().regex(/^[^/\s]+\/[^/\s]+$/, "owner/name") }).optional(),
  rootDirectory: z.string().optional(),
  /** Deployments for the release engine to step Vercel's rolling release in lockstep with the backend. */
  deployments: z.strictObject({ stable: z.string().min(1), canary: z.string().min(1) }).optional(),
  /** Vercel's own rolling release for the frontend; last stage must be 100. */
  rollingRelease: z
    .strictObject({
      advancementType: z.enum(["automatic", "manual-approval"]),
      stages: z
        .array(z.strictObject({ targetPercentage: Percent, durationMinutes: z.number().int().min(1).max(10_080).optional() }))
        .min(2)
        .max(20),
    })
    .optional(),
});

/** Weights of a stepped traffic shift: strictly increasing, ending at 100. */
const StepList = z
  .array(Percent)
  .min(1)
  .superRefine((steps, ctx) => {
    if (steps[steps.length - 1] !== 100) ctx.addIssue({ code: "custom", message: `must end at 100 (ends at ${steps[steps.length - 1]})` });
    steps.forEach((s, i) => {
      if (i > 0 && s <= steps[i - 1]!) ctx.addIssue({ code: "custom", path: [i], message: `must be strictly increasing (${steps[i - 1]} then ${s})` });
    });
  });

/** A path on the service itself: starts with one '/', never '//' (which would name another host). */
export const UrlPath = z.string().regex(/^\/(?!\/)[^\s\\]*$/, "a path such as /health (one leading '/', no spaces or backslashes)");

/** Checks against the candidate's own URL before it takes any traffic. */
const SmokeTests = z.strictObject({
  /** Critical: any failure rejects the candidate. */
  paths: z.array(UrlPath),
  /** Non-critical: failures are reported, not fatal. */
  optionalPaths: z.array(UrlPath).default([]),
  expectStatus: z.number().int().min(100).max(599).default(200),
  maxLatencyMs: z.number().int().positive().max(60_000).default(2000),
  /** WebSocket upgrade + echo round trip on this path (critical); null turns the default check off. */
  websocketPath: UrlPath.nullable()
    .optional()
    .transform((p) => p ?? undefined),
  retries: z.number().int().min(0).max(10),
  failFast: z.boolean(),
});

const Thresholds = z.strictObject({
  errorRate: z.number().gt(0).lt(1),
  p95LatencyMs: z.number().int().positive().max(600_000),
});

/** An outbound URL: no credentials in it, no metadata or link-local host (https-only is checked where the environment is known). */
export const OutboundUrl = z.url({ protocol: /^https?$/ }).superRefine((u, ctx) => {
  const problem = outboundUrlProblem(u, { httpsOnly: false });
  if (problem) ctx.addIssue({ code: "custom", message: `${shownUrl(u)} ${problem}` });
});
/** A synthetic WebSocket client on both arms during every step: echo failures and times join the comparison. */
const WebsocketProbe = z.strictObject({
  path: UrlPath,
  messagesPerSecond: z.number().min(0.2).max(50),
  timeoutMs: z.number().int().min(50).max(30_000),
});

const Analysis = z.strictObject({
  /** Absolute kill-switch limits, checked continuously. */
  guardrails: z.strictObject({
    errorRate: z.number().gt(0).lt(1),
    p95LatencyMs: z.number().int().positive().max(600_000),
    consecutiveHealthFailures: z.number().int().min(1).max(100),
  }),
  /** Per-step comparative criteria, keyed by step weight; the nearest step at or below applies. */
  stepCriteria: z.record(z.string().regex(/^\d{1,3}$/), Thresholds),
  alpha: z.number().gt(0).max(0.2),
  /** Relative regression the comparative tier tolerates (0.1: candidate up to 10% worse than stable). */
  comparativeMargin: z.number().min(0).max(4),
  /** Expected requests per second at 100% traffic, used to predict durations. */
  expectedRps: z.number().positive().max(10_000_000),
  /** Candidate requests every analysed step (blue-green's bake included) must see before it may pass. */
  minRequests: z.number().int().min(1).max(10_000_000),
  onInconclusive: z.enum(["rollback", "hold"]),
  metricsUnavailableLimitSeconds: Seconds,
  websocketProbe: WebsocketProbe.optional(),
});

/**
 * Where a held release (onInconclusive: hold, manualApproval, autoRollback off) gets its answer:
 * a JSON file or an HTTP endpoint the engine polls ({"releaseKey", "decision": "approve"|"reject", "by"}).
 * Nobody answering within timeoutSeconds rolls the release back.
 */
const Approval = z.discriminatedUnion("source", [
  z.strictObject({ source: z.literal("file"), path: z.string().min(1), timeoutSeconds: z.number().int().min(1).max(86_400) }),
  z.strictObject({ source: z.literal("http"), url: OutboundUrl, timeoutSeconds: z.number().int().min(1).max(86_400) }),
]);
export type Approval = z.infer<typeof Approval>;

const ReleaseTarget = z.enum(["cloud-run", "http-route"]);

/** After a statistical rollback, how long the candidate's open sessions may end on their own before they are closed. */
const DrainSeconds = z.number().int().min(0).max(3600);

/** Flagger-style webhooks: gates (confirm-*, pre-rollout) must answer 2xx; the others are notifications. */
export const WEBHOOK_TYPES = ["pre-rollout", "confirm-rollout", "confirm-promotion", "post-rollout", "rollback"] as const;
const Webhook = z.strictObject({
  name: DnsLabel,
  type: z.enum(WEBHOOK_TYPES),
  url: OutboundUrl,
  timeoutSeconds: z.number().int().min(1).max(300).default(10),
});
/** Hosts webhooks may call ("hooks.example.com", or "*.example.com"); without it, any host the URL rules allow. */
const WebhookAllowedHosts = z
  .array(z.string().regex(/^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "a host name such as hooks.example.com or *.example.com"))
  .min(1)
  .optional();

export const ReleaseConfig = z
  .discriminatedUnion("strategy", [
    z.strictObject({
      strategy: z.literal("direct"),
      target: ReleaseTarget,
      smokeTests: SmokeTests,
      webhooks: z.array(Webhook).default([]),
      webhookAllowedHosts: WebhookAllowedHosts,
    }),
    z.strictObject({
      strategy: z.literal("blue-green"),
      target: ReleaseTarget,
      smokeTests: SmokeTests,
      webhooks: z.array(Webhook).default([]),
      webhookAllowedHosts: WebhookAllowedHosts,
      switch: z.discriminatedUnion("mode", [z.strictObject({ mode: z.literal("immediate") }), z.strictObject({ mode: z.literal("gradual"), steps: StepList })]),
      bakeSeconds: Seconds,
      autoRollback: z.boolean(),
      analysis: Analysis,
      drainSeconds: DrainSeconds,
      approval: Approval.optional(),
    }),
    z.strictObject({
      strategy: z.literal("canary"),
      target: ReleaseTarget,
      smokeTests: SmokeTests,
      webhooks: z.array(Webhook).default([]),
      webhookAllowedHosts: WebhookAllowedHosts,
      steps: StepList,
      bakeSeconds: Seconds,
      maxStepSeconds: Seconds,
      autoRollback: z.boolean(),
      manualApproval: z.boolean(),
      analysis: Analysis,
      drainSeconds: DrainSeconds,
      approval: Approval.optional(),
    }),
  ])
  .superRefine((r, ctx) => {
    r.webhooks.forEach((h, i) => {
      const problem = r.webhookAllowedHosts ? outboundUrlProblem(h.url, { httpsOnly: false, allowedHosts: r.webhookAllowedHosts }) : undefined;
      if (problem) ctx.addIssue({ code: "custom", path: ["webhooks", i, "url"], message: problem });
    });
    if (r.strategy === "direct" || r.approval) return;
    // A release that can hold waits for a person: without a source to ask, it would sit at a partial weight with nobody watching.
    const holds: [path: string[], what: string][] = [];
    if (r.analysis.onInconclusive === "hold") holds.push([["analysis", "onInconclusive"], "onInconclusive: hold"]);
    if (r.strategy === "canary" && r.manualApproval) holds.push([["manualApproval"], "manualApproval: true"]);
    if (!r.autoRollback) holds.push([["autoRollback"], "autoRollback: false"]);
    for (const [path, what] of holds) {
      ctx.addIssue({
        code: "custom",
        path,
        message: `${what} holds the release for a person, but no approval source is configured: set release.approval ({ source: file, path, timeoutSeconds } or { source: http, url, timeoutSeconds })`,
      });
    }
  });
export type ReleaseConfig = z.infer<typeof ReleaseConfig>;

const MonitoringConfig = z.strictObject({
  level: z.enum(["minimal", "standard", "comprehensive"]),
  emails: z.array(z.email()),
  errorRateThreshold: z.number().gt(0).lt(1),
  p95LatencyMs: z.number().int().positive().max(600_000),
  saturationThreshold: z.number().gt(0).max(1),
});

/** A value that must be set with `pulumi config set --secret`. */
export const SecretValue = z.strictObject({
  secret: z.literal(true, { error: "must be set with `pulumi config set --secret` (found a plaintext value)" }),
  value: z.string().min(1),
});
export type SecretValue = z.infer<typeof SecretValue>;

/** A switch as Pulumi hands top-level config over (text): exactly "true" or "false"; "yes", "1" or "on" are typos here, not a yes. */
const TextFlag = z.enum(["true", "false"], { message: 'expected "true" or "false"' }).transform((v) => v === "true");

/** Keys whose values must be Pulumi secrets. */
export const SECRET_KEYS = ["vercelApiToken", "firebaseCredentials", "slackWebhookUrl", "alertWebhookUrl", "releaseWebhookSecret", "kubeconfig"] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

export const StackConfig = z
  .strictObject({
    environment: Environment,
    owner: DnsLabel,
    gcp: GcpConfig,
    network: NetworkConfig,
    cluster: ClusterConfig,
    workloads: WorkloadsConfig,
    backend: BackendConfig,
    frontend: FrontendConfig,
    release: ReleaseConfig,
    monitoring: MonitoringConfig,
    vercelApiToken: SecretValue,
    firebaseCredentials: SecretValue,
    slackWebhookUrl: SecretValue.optional(),
    alertWebhookUrl: SecretValue.optional(),
    /** Signs every release webhook (HMAC-SHA256, header x-delivery-signature); required in staging and production when webhooks are configured. */
    /** cluster.mode existing: the cluster's kubeconfig (YAML or JSON). */
    kubeconfig: SecretValue.optional(),
    releaseWebhookSecret: SecretValue.extend({ value: z.string().min(16, "must be at least 16 characters (it keys the webhooks' HMAC signature)") }).optional(),
    /**
     * The emergency path, set by `npm run rollback -- --immediate`: the stack's
     * traffic splits move 100% at once, without steps or gates. Pulumi hands
     * top-level config values over as text, hence "true"/"false".
     */
    releaseImmediately: TextFlag.optional(),
    /** Start production releases whose own forecast says a step cannot reach a verdict in time ("true"/"false"). */
    releaseAllowInconclusive: TextFlag.optional(),
  })
  .superRefine((c, ctx) => {
    for (const issue of crossFieldIssues(c)) ctx.addIssue({ code: "custom", ...issue });
  });

export interface CrossFieldIssue {
  path: (string | number)[];
  message: string;
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Rules that relate several keys. Written against possibly malformed input
 * so the loader can report them alongside type errors: a user fixing a stack
 * file should see every problem in one run, not one layer at a time.
 */
export function crossFieldIssues(input: unknown): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  const c = obj(input);
  const gcp = obj(c["gcp"]);
  const region = str(gcp["region"]);
  const zone = str(gcp["zone"]);
  if (region && zone && (GCP_REGIONS as readonly string[]).includes(region) && !zone.startsWith(`${region}-`))
    issues.push({ path: ["gcp", "zone"], message: `must be a zone of region ${region} (found ${zone})` });

  const minMax = (section: string, minKey: string, maxKey: string) => {
    const s = obj(c[section]);
    const min = num(s[minKey]);
    const max = num(s[maxKey]);
    if (min !== undefined && max !== undefined && min > max)
      issues.push({ path: [section, minKey], message: `must not exceed ${section}.${maxKey} (${min} > ${max})` });
  };
  minMax("backend", "minInstances", "maxInstances");
  minMax("cluster", "minNodes", "maxNodes");
  minMax("workloads", "replicas", "maxReplicas");

  const services = arr(obj(c["workloads"])["services"]).map(obj);
  const names = new Set(services.map((s) => str(s["name"])).filter((n) => n !== undefined));
  // Resources are named after the service: a second one of the same name would silently replace the first.
  services.forEach((s, i) => {
    const name = str(s["name"]);
    const first = services.findIndex((o) => str(o["name"]) === name);
    if (name !== undefined && first < i)
      issues.push({
        path: ["workloads", "services", i, "name"],
        message: `"${name}" is also the name of workloads.services[${first}]: each agent service needs its own name`,
      });
  });
  services.forEach((s, i) => {
    arr(s["talksTo"]).forEach((t, j) => {
      if (typeof t === "string" && !names.has(t))
        issues.push({ path: ["workloads", "services", i, "talksTo", j], message: `names no agent service of this stack (${t})` });
    });
    const active = str(s["activeSlot"]) ?? "blue";
    if ((active === "blue" || active === "green") && !str(obj(s["images"])[active])) {
      issues.push({ path: ["workloads", "services", i, "activeSlot"], message: `slot ${active} has no image` });
    }
  });

  if (c["environment"] === "production") {
    const image = str(obj(c["backend"])["image"]);
    if (image && !hasDigest(image))
      issues.push({ path: ["backend", "image"], message: `must be pinned by digest (@sha256:...) in production (found ${image})` });
    services.forEach((s, i) => {
      for (const slot of ["blue", "green"] as const) {
        const img = str(obj(s["images"])[slot]);
        if (img && !hasDigest(img))
          issues.push({ path: ["workloads", "services", i, "images", slot], message: `must be pinned by digest (@sha256:...) in production (found ${img})` });
      }
    });
  }

  // Webhooks of staging and production go over https and are signed with a secret.
  const release = obj(c["release"]);
  const hooks = arr(release["webhooks"]).map(obj);
  if (c["environment"] === "staging" || c["environment"] === "production") {
    hooks.forEach((h, i) => {
      const url = str(h["url"]);
      if (url !== undefined && isPlainHttp(url))
        issues.push({
          path: ["release", "webhooks", i, "url"],
          message: `${String(c["environment"])} sends webhooks over https only (found ${shownUrl(url)})`,
        });
    });
    const approvalUrl = str(obj(release["approval"])["url"]);
    if (approvalUrl !== undefined && isPlainHttp(approvalUrl))
      issues.push({ path: ["release", "approval", "url"], message: `${c["environment"]} asks the approval endpoint over https only` });
    if (hooks.length > 0 && c["releaseWebhookSecret"] === undefined)
      issues.push({
        path: ["releaseWebhookSecret"],
        message: `${c["environment"]} signs its release webhooks: set a secret with \`pulumi config set --secret releaseWebhookSecret <value>\` (receivers check the x-delivery-signature header)`,
      });
  }

  const workloads = obj(c["workloads"]);
  const cluster = obj(c["cluster"]);
  if (cluster["mode"] === "existing") {
    const kubeconfig = obj(c["kubeconfig"]);
    if (kubeconfig["secret"] === true && typeof kubeconfig["value"] === "string") {
      const problem = kubeconfigProblem(kubeconfig["value"], str(cluster["context"]));
      if (problem) issues.push({ path: problem.key.split("."), message: problem.message });
    }
    if (c["kubeconfig"] === undefined && cluster["context"] === undefined) {
      issues.push({
        path: ["kubeconfig"],
        message:
          'cluster.mode existing deploys to the cluster a kubeconfig reaches: set it with `pulumi config set --secret kubeconfig "$(cat your-kubeconfig)"`, or set cluster.context to a context of the deploying machine\'s own kubeconfig',
      });
    }
    const gatewayClass = str(workloads["gatewayClassName"]);
    if (gatewayClass?.toLowerCase().startsWith("gke-"))
      issues.push({
        path: ["workloads", "gatewayClassName"],
        message: `"${gatewayClass}" is a GKE GatewayClass: with cluster.mode existing, name a GatewayClass your cluster has (kubectl get gatewayclass)`,
      });
    arr(cluster["gatewaySourceCidrs"]).forEach((cidr, i) => {
      // The internet, not a Gateway's proxies: the NetworkPolicy would admit any source.
      if (typeof cidr === "string" && isInternetWide(cidr))
        issues.push({
          path: ["cluster", "gatewaySourceCidrs", i],
          message: `${String(cidr)} admits (nearly) every address, so the exposed services' NetworkPolicy would be open to any source: list the ranges the Gateway's proxies connect from`,
        });
    });
    if (services.some((s) => s["expose"] === true) && arr(cluster["gatewaySourceCidrs"]).length === 0) {
      issues.push({
        path: ["cluster", "gatewaySourceCidrs"],
        message: "exposed agent services accept traffic only from the Gateway's data plane: list the ranges its proxies connect from",
      });
    }
  } else if (c["kubeconfig"] !== undefined) {
    issues.push({ path: ["kubeconfig"], message: "is only for cluster.mode existing (a GKE cluster's kubeconfig is made from the cluster itself): remove it" });
  }
  if (
    release["target"] === "http-route" &&
    release["strategy"] !== undefined &&
    release["strategy"] !== "direct" &&
    workloads["hostname"] === undefined &&
    services.some((s) => s["expose"] === true)
  ) {
    issues.push({
      path: ["workloads", "hostname"],
      message: `a ${str(release["strategy"]) ?? ""} release on the HTTPRoutes smoke-tests and health-checks each candidate slot at http://<hostname>/<service>/slots/<slot> before it takes traffic: set the hostname the Gateway serves`,
    });
  }

  const bake = num(release["bakeSeconds"]);
  const stepLimit = num(release["maxStepSeconds"]);
  if (release["strategy"] === "canary" && bake !== undefined && stepLimit !== undefined && bake > stepLimit) {
    issues.push({
      path: ["release", "bakeSeconds"],
      message: `must not exceed release.maxStepSeconds (${bake} > ${stepLimit}): no step could pass before its limit ends it`,
    });
  }

  const frontend = obj(c["frontend"]);
  const rolling = obj(frontend["rollingRelease"]);
  const stages = arr(rolling["stages"]).map(obj);
  stages.forEach((st, i) => {
    const previous = i > 0 ? num(stages[i - 1]!["targetPercentage"]) : undefined;
    const pct = num(st["targetPercentage"]);
    if (previous !== undefined && pct !== undefined && pct <= previous)
      issues.push({
        path: ["frontend", "rollingRelease", "stages", i, "targetPercentage"],
        message: `must be greater than the stage before it (${pct} after ${previous}): stages only move traffic forward`,
      });
  });
  if (frontend["deployments"] !== undefined) {
    // The follower is stepped by the backend's Cloud Run release; anywhere else it would be silently left out.
    if (release["target"] !== "cloud-run" || release["strategy"] === "direct" || release["strategy"] === undefined) {
      issues.push({
        path: ["frontend", "deployments"],
        message: `steps Vercel's rolling release with a canary or blue-green release of the backend on Cloud Run (release.target cloud-run); this stack's release is ${String(release["strategy"])} on ${String(release["target"])}, so it would be ignored: remove it`,
      });
    }
    // Starting Vercel's release serves its first stage at once: never more than the backend's first step.
    const steps =
      release["strategy"] === "canary" ? arr(release["steps"]) : obj(release["switch"])["mode"] === "gradual" ? arr(obj(release["switch"])["steps"]) : [100];
    const firstStep = num(steps[0]);
    const firstStage = num(stages[0]?.["targetPercentage"]);
    if (firstStep !== undefined && firstStage !== undefined && firstStage > firstStep) {
      issues.push({
        path: ["frontend", "rollingRelease", "stages", 0, "targetPercentage"],
        message: `${firstStage}% is more than the backend's first step (${firstStep}%): the frontend would lead the backend; start Vercel's stages at ${firstStep}% or less`,
      });
    }
  }
  if (frontend["deployments"] !== undefined && rolling["advancementType"] === "automatic") {
    issues.push({
      path: ["frontend", "rollingRelease", "advancementType"],
      message: `with frontend.deployments the release engine steps Vercel's rolling release in lockstep with the backend, which needs "manual-approval" (with "automatic", Vercel advances on its own clock)`,
    });
  }
  if (stages.length > 0 && num(stages[stages.length - 1]!["targetPercentage"]) !== 100) {
    issues.push({ path: ["frontend", "rollingRelease", "stages"], message: "last stage must have targetPercentage 100" });
  }
  if (rolling["advancementType"] === "automatic" && stages.slice(0, -1).some((s) => s["durationMinutes"] === undefined)) {
    issues.push({ path: ["frontend", "rollingRelease", "stages"], message: "automatic advancement needs durationMinutes on every stage but the last" });
  }
  return issues;
}

export type StackConfig = z.infer<typeof StackConfig>;
