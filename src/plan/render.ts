import { redactSecrets, type DeclaredResource } from "./offlineCloud";
import type { StackOutputValue } from "./evaluate";
import { TRAFFIC_SPLIT_TOKEN } from "../release/provider/token";

/** The few inputs per type a reviewer looks at first (dotted paths into the inputs). */
const KEY_PROPERTIES: Record<string, string[]> = {
  "gcp:projects/service:Service": ["service"],
  "gcp:compute/subnetwork:Subnetwork": ["ipCidrRange", "purpose"],
  "gcp:serviceaccount/account:Account": ["accountId"],
  "gcp:projects/iAMMember:IAMMember": ["role"],
  "gcp:container/cluster:Cluster": ["name", "location", "releaseChannel.channel", "privateClusterConfig.enablePrivateNodes", "datapathProvider"],
  "gcp:container/nodePool:NodePool": ["nodeConfig.machineType", "autoscaling.minNodeCount", "autoscaling.maxNodeCount"],
  "gcp:redis/instance:Instance": ["tier", "memorySizeGb", "authEnabled"],
  "gcp:secretmanager/secret:Secret": ["secretId"],
  "gcp:secretmanager/secretIamMember:SecretIamMember": ["role", "member"],
  "gcp:cloudrunv2/service:Service": [
    "name",
    "template.revision",
    "template.scaling.minInstanceCount",
    "template.scaling.maxInstanceCount",
    "template.timeout",
    "ingress",
  ],
  "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ["role", "member"],
  "gcp:monitoring/alertPolicy:AlertPolicy": ["displayName", "severity"],
  "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": ["httpCheck.path", "period"],
  "gcp:monitoring/notificationChannel:NotificationChannel": ["type", "displayName"],
  "vercel:index/project:Project": ["name", "framework"],
  "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable": ["key", "targets", "sensitive"],
  "vercel:index/projectDomain:ProjectDomain": ["domain"],
  "vercel:index/projectRollingRelease:ProjectRollingRelease": ["advancementType", "stages"],
  "kubernetes:core/v1:Namespace": ["metadata.name"],
  "kubernetes:apps/v1:Deployment": ["metadata.name", "spec.template.spec.containers.0.image"],
  "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": ["spec.minReplicas", "spec.maxReplicas"],
  "kubernetes:policy/v1:PodDisruptionBudget": ["spec.maxUnavailable"],
  "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": ["metadata.name", "spec.rules.0.backendRefs"],
  [TRAFFIC_SPLIT_TOKEN]: ["target.kind", "stable", "candidate", "release.strategy", "release.steps"],
};

function at(obj: unknown, path: string): unknown {
  let v = obj;
  for (const p of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v;
}

function show(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x === "object" && x !== null)) {
    return `[${v
      .map((x) =>
        Object.entries(x as object)
          .map(([k, y]) => `${k}=${String(y)}`)
          .join(" "),
      )
      .join(", ")}]`;
  }
  return JSON.stringify(v);
}

export function keyProperties(r: DeclaredResource): string {
  return (KEY_PROPERTIES[r.type] ?? [])
    .map((p) => [p, redactSecrets(at(r.inputs, p))] as const)
    .filter(([, v]) => v !== undefined)
    .map(([p, v]) => `${p.replace(/\.0\./g, "[0].").split(".").pop()}=${show(v)}`)
    .join("  ");
}

export function countByType(resources: DeclaredResource[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** An indented tree: components first, children under their parent. */
export function renderTree(resources: DeclaredResource[]): string[] {
  const children = new Map<string | undefined, DeclaredResource[]>();
  const urns = new Set(resources.map((r) => r.urn));
  for (const r of resources) {
    const parent = r.parent && urns.has(r.parent) ? r.parent : undefined;
    children.set(parent, [...(children.get(parent) ?? []), r]);
  }
  const lines: string[] = [];
  // Registration order depends on timing; sort so the same stack always prints the same tree.
  const order = (a: DeclaredResource, b: DeclaredResource) =>
    Number(a.custom) - Number(b.custom) || a.type.localeCompare(b.type) || a.name.localeCompare(b.name);
  const walk = (parent: string | undefined, prefix: string) => {
    const list = [...(children.get(parent) ?? [])].sort(order);
    list.forEach((r, i) => {
      const last = i === list.length - 1;
      const props = keyProperties(r);
      lines.push(`${prefix}${last ? "└─ " : "├─ "}${r.type}  ${r.name}${props ? `  (${props})` : ""}`);
      walk(r.urn, `${prefix}${last ? "   " : "│  "}`);
    });
  };
  walk(undefined, "");
  return lines;
}

export function renderOutputs(outputs: Record<string, StackOutputValue>): string[] {
  return Object.entries(outputs).map(([k, o]) => `  ${k}: ${o.secret ? "[secret]" : typeof o.value === "string" ? o.value : JSON.stringify(o.value)}`);
}

/** Outputs for JSON: secret values are never printed. */
export function publicOutputs(outputs: Record<string, StackOutputValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([k, o]) => [k, o.secret ? "[secret]" : o.value]));
}
