import { z } from "zod";
import { isPlainHttp, shownUrl, tokenDestinationProblem } from "../../config/outbound";
import { Environment, K8sName, OutboundUrl, ProjectId, Region, ReleaseConfig, UrlPath } from "../../config/schema";
import { HAPROXY_NAME } from "../routers/haproxy";

const HaproxyName = z.string().regex(HAPROXY_NAME, "an HAProxy identifier (letters, digits, '-', '_', '.', ':'; at most 64)");

/** A release's own deadline when its inputs name none: at it, the release rolls back. */
export const DEFAULT_DEADLINE_SECONDS = 3600;

/** Where the traffic split lives. One variant per router adapter. */
export const Target = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("cloud-run"),
    // Each lands in the Admin API's path: only what a real project, region and service can be.
    project: ProjectId,
    region: Region,
    service: z.string().regex(/^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$/, "a Cloud Run service name (lower-case letters, digits, '-'; at most 49)"),
    endpoint: OutboundUrl.optional(),
    candidateTag: z
      .string()
      .regex(/^[a-z][-a-z0-9]{0,45}$/)
      .default("candidate"),
  }),
  z.strictObject({
    kind: z.literal("http-route"),
    namespace: K8sName,
    name: K8sName,
    ruleIndex: z.number().int().min(0).max(15).default(0),
    stableBackend: K8sName,
    candidateBackend: K8sName,
    /** Secret. Without it: $KUBECONFIG or in-cluster config. */
    kubeconfig: z.string().optional(),
    /** A context of the kubeconfig; default: its current-context. */
    context: z.string().min(1).optional(),
    candidateUrl: OutboundUrl.optional(),
    stableUrl: OutboundUrl.optional(),
  }),
  z.strictObject({
    kind: z.literal("haproxy"),
    runtimeApi: z.string().min(1),
    /** The backend's two servers are named after the revisions (e.g. blue and green); stable and candidate swap each release. */
    backend: HaproxyName,
    stateFile: z.string().min(1),
    candidateUrl: OutboundUrl.optional(),
    stableUrl: OutboundUrl.optional(),
  }),
]);
export type Target = z.infer<typeof Target>;

export const Follower = z.strictObject({
  kind: z.literal("vercel"),
  projectId: z.string().min(1),
  teamId: z.string().optional(),
  /** Secret. */
  token: z.string().min(1),
  canaryDeploymentId: z.string().min(1),
  stableDeploymentId: z.string().min(1),
  endpoint: OutboundUrl.optional(),
});

/** One PromQL selector or a list whose sum is taken. */
const Selectors = z.union([
  z
    .string()
    .min(1)
    .transform((s) => [s]),
  z.array(z.string().min(1)).min(1),
]);

export const Metrics = z
  .strictObject({
    url: OutboundUrl,
    preset: z.enum(["haproxy", "cloud-run", "custom"]),
    /** haproxy: the backend (proxy) name; cloud-run: the service name. */
    scope: z.string().optional(),
    /** PromQL selectors; with a preset, any of them overrides the preset's. `{{revision}}` is filled in. */
    templates: z
      .strictObject({
        requests: Selectors,
        errors: Selectors,
        latencyBuckets: z.string().min(1),
        latencyUnit: z.enum(["s", "ms"]),
        wsAbnormalCloses: z.string().min(1),
      })
      .partial()
      .optional(),
    /** A requests series whose newest sample is older than this is stale (no data). Default: 300 s for cloud-run (Cloud Monitoring's delay), else 30 s. */
    maxSampleAgeSeconds: z.number().int().min(1).max(3600).optional(),
    /** google: an OAuth token from Application Default Credentials (Managed Service for Prometheus). */
    auth: z.enum(["none", "google"]).default("none"),
  })
  .superRefine((m, ctx) => {
    // A selector without the revision reads both arms' series alike: every comparison would pass.
    for (const [key, value] of Object.entries(m.templates ?? {})) {
      if (key === "latencyUnit" || value === undefined) continue;
      for (const selector of Array.isArray(value) ? value : [value]) {
        if (!selector.includes("{{revision}}"))
          ctx.addIssue({
            code: "custom",
            path: ["templates", key],
            message: `${selector} does not name {{revision}}: it would read the same series for both arms, so every comparison would pass`,
          });
      }
    }
  });

export const TrafficSplitInputs = z
  .strictObject({
    /** The stack's environment, so policies can hold the release to that environment's rules. */
    environment: Environment.optional(),
    target: Target,
    stable: z.string().min(1),
    candidate: z.string().min(1),
    release: ReleaseConfig,
    metrics: Metrics,
    followers: z.array(Follower).default([]),
    /** A new value retries a rejected candidate. */
    retryToken: z.string().optional(),
    /** Secret. Signs every webhook body (HMAC-SHA256); see gates/webhooks.ts. */
    webhookSecret: z.string().min(16, "at least 16 characters").optional(),
    /** Emergency path: straight to 100% of the candidate, no steps or gates. */
    immediate: z.boolean().default(false),
    /** Start in production even when the release's own forecast says a step cannot reach a verdict in time. */
    allowInconclusive: z.boolean().default(false),
    intervalSeconds: z.number().min(1).max(300).default(15),
    /** Health checks run this often (at most intervalSeconds), so three failures take seconds, not three metric intervals. */
    healthIntervalSeconds: z.number().min(1).max(300).default(5),
    deadlineSeconds: z.number().int().positive().max(86_400).default(DEFAULT_DEADLINE_SECONDS),
    /** Health endpoint polled for the consecutive-failure guardrail and at promotion (on the candidate's own URL). */
    healthPath: UrlPath.default("/health"),
  })
  .refine((i) => i.stable !== i.candidate, { message: "stable and candidate must differ", path: ["candidate"] })
  .superRefine((i, ctx) => {
    // Our tokens go only to their own services (in every environment).
    const token = (url: string | undefined, kind: "google" | "vercel", path: (string | number)[]) => {
      const problem = url === undefined ? undefined : tokenDestinationProblem(url, kind);
      if (url !== undefined && problem) ctx.addIssue({ code: "custom", path, message: `${shownUrl(url)} ${problem}` });
    };
    if (i.target.kind === "cloud-run") token(i.target.endpoint, "google", ["target", "endpoint"]);
    if (i.metrics.auth === "google") token(i.metrics.url, "google", ["metrics", "url"]);
    i.followers.forEach((f, n) => token(f.endpoint, "vercel", ["followers", n, "endpoint"]));
    // Outside dev (an unknown environment counts as production), webhooks and the approval endpoint use https.
    if (i.environment === "dev") return;
    i.release.webhooks.forEach((h, n) => {
      if (isPlainHttp(h.url))
        ctx.addIssue({ code: "custom", path: ["release", "webhooks", n, "url"], message: `${i.environment ?? "production"} sends webhooks over https only` });
    });
    if (i.release.strategy !== "direct" && i.release.approval?.source === "http" && isPlainHttp(i.release.approval.url))
      ctx.addIssue({
        code: "custom",
        path: ["release", "approval", "url"],
        message: `${i.environment ?? "production"} asks the approval endpoint over https only`,
      });
  })
  .refine((i) => i.target.kind !== "http-route" || (i.target.stableBackend === i.stable && i.target.candidateBackend === i.candidate), {
    message:
      "with an http-route target, stableBackend and candidateBackend are the Services of stable and candidate: the release moves, and checks, the backends it names",
    path: ["target"],
  })
  .refine((i) => i.target.kind !== "haproxy" || (HAPROXY_NAME.test(i.stable) && HAPROXY_NAME.test(i.candidate)), {
    message: "with an haproxy target, stable and candidate are server names: HAProxy identifiers (letters, digits, '-', '_', '.', ':')",
    path: ["candidate"],
  })
  .refine((i) => i.metrics.preset !== "custom" || (i.metrics.templates?.requests !== undefined && i.metrics.templates.errors !== undefined), {
    message: "a custom metrics preset needs templates.requests and templates.errors",
    path: ["metrics", "templates"],
  });

export type TrafficSplitInputs = z.infer<typeof TrafficSplitInputs>;

/** Pulumi's marker for a value not known yet (preview). It can arrive in place of any input. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function containsUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (typeof v === "object" && v !== null) return Object.values(v).some(containsUnknown);
  return false;
}
