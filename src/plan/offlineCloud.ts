import type * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { TRAFFIC_SPLIT_TOKEN } from "../release/provider/token";
import { SECRET_PLACEHOLDER } from "../config/secretPlaceholder";

/** What the program asked for, as the mock engine saw it. */
export interface DeclaredResource {
  urn: string;
  type: string;
  name: string;
  /** URN of the parent resource, if any. */
  parent?: string;
  custom: boolean;
  /** Provider reference ("<urn>::<id>") for custom resources with an explicit provider. */
  provider?: string;
  /** Properties Pulumi leaves to another owner after creation. */
  ignoreChanges: string[];
  /** URNs this resource waits for (data flow and explicit dependsOn). */
  dependsOn: string[];
  /** Desired inputs (what the program declared). */
  inputs: Record<string, unknown>;
  /** State after a (simulated) create: inputs plus computed values. */
  outputs: Record<string, unknown>;
  /** For each input property, the URNs its value came from. */
  propertyDependencies: Record<string, string[]>;
}

/** A stable short hash so offline ids and URLs are the same on every run. */
export function shortHash(text: string, length = 10): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let out = "";
  let x = h;
  while (out.length < length) {
    out += (x % 36).toString(36);
    x = Math.floor(x / 36) || Math.imul(x ^ out.length, 0x01000193) >>> 0 || 7;
  }
  return out;
}

/** True for a value the program passed as a Pulumi secret. */
export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}

/** A deep copy in which every secret value is replaced by "[secret]" (and a dynamic provider's code by a note). */
export function redactSecrets(v: unknown): unknown {
  if (isSecretValue(v)) return SECRET_PLACEHOLDER;
  if (Array.isArray(v)) return v.map(redactSecrets);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === "__provider" ? "[serialized dynamic provider]" : redactSecrets(x)]));
  }
  return v;
}

type State = Record<string, unknown>;
type Fabricate = (name: string, inputs: State) => State;

/** A declared value as text when it is a scalar (an object or an unknown stays out of ids and names). */
const text = (v: unknown, otherwise: string) => (typeof v === "string" || typeof v === "number" ? String(v) : otherwise);
const projectOf = (i: State) => text(i["project"], "offline-project");

/** Cloud Run's region code in *.run.app host names (from Cloud Run's URL docs): a stable stand-in. */
const runUrl = (service: string, region: string) =>
  `https://${service}-${shortHash(service + region, 10)}-${region.replace(/[^a-z]/g, "").slice(0, 2)}.a.run.app`;

/**
 * Computed state for every resource type the program may declare, shaped like
 * what the real providers return. A type not listed here makes the mock throw:
 * nothing new slips into a stack without a deliberate entry.
 */
const COMPUTED: Record<string, Fabricate> = {
  "pulumi:providers:gcp": () => ({}),
  "pulumi:providers:vercel": () => ({}),
  "pulumi:providers:kubernetes": () => ({}),
  "gcp:projects/service:Service": () => ({}),
  "gcp:compute/network:Network": (n, i) => ({
    name: i["name"] ?? `${n}-${shortHash(n, 7)}`,
    selfLink: `https://www.googleapis.com/compute/v1/projects/${projectOf(i)}/global/networks/${n}`,
  }),
  "gcp:compute/subnetwork:Subnetwork": (n, i) => ({ name: i["name"] ?? `${n}-${shortHash(n, 7)}`, gatewayAddress: "10.10.0.1" }),
  "gcp:compute/router:Router": (n, i) => ({ name: i["name"] ?? `${n}-${shortHash(n, 7)}` }),
  "gcp:compute/routerNat:RouterNat": (n, i) => ({ name: i["name"] ?? `${n}-${shortHash(n, 7)}` }),
  "gcp:serviceaccount/account:Account": (_n, i) => ({
    email: `${String(i["accountId"])}@${projectOf(i)}.iam.gserviceaccount.com`,
    name: `projects/${projectOf(i)}/serviceAccounts/${String(i["accountId"])}@${projectOf(i)}.iam.gserviceaccount.com`,
    uniqueId: shortHash(String(i["accountId"]), 21).replace(/[a-z]/g, "7"),
  }),
  "gcp:projects/iAMMember:IAMMember": () => ({ etag: "BwYofflineA=" }),
  "gcp:container/cluster:Cluster": (_n, i) => ({
    endpoint: "34.78.120.15",
    masterAuth: { clusterCaCertificate: Buffer.from("offline cluster CA certificate").toString("base64"), clientCertificate: "", clientKey: "" },
    selfLink: `https://container.googleapis.com/v1/projects/${projectOf(i)}/locations/${String(i["location"])}/clusters/${String(i["name"])}`,
  }),
  "gcp:container/nodePool:NodePool": (n, i) => ({ name: i["name"] ?? `${n}-${shortHash(n, 7)}` }),
  "gcp:redis/instance:Instance": () => ({
    host: "10.128.0.4",
    port: 6378,
    authString: SECRET_PLACEHOLDER,
    serverCaCerts: [{ cert: "-----BEGIN CERTIFICATE-----\n(offline plan: issued by Memorystore at creation)\n-----END CERTIFICATE-----" }],
  }),
  "gcp:binaryauthorization/policy:Policy": () => ({}),
  "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": () => ({ etag: "BwYofflineD=" }),
  "gcp:secretmanager/secret:Secret": (_n, i) => ({ name: `projects/${projectOf(i)}/secrets/${String(i["secretId"])}` }),
  "gcp:secretmanager/secretVersion:SecretVersion": (_n, i) => ({ version: "1", name: `${String(i["secret"])}/versions/1` }),
  "gcp:secretmanager/secretIamMember:SecretIamMember": () => ({ etag: "BwYofflineB=" }),
  "gcp:cloudrunv2/service:Service": (_n, i) => {
    const template = (i["template"] ?? {}) as State;
    return {
      uri: runUrl(String(i["name"]), String(i["location"])),
      latestReadyRevision: template["revision"],
      latestCreatedRevision: template["revision"],
      terminalCondition: { state: "CONDITION_SUCCEEDED" },
    };
  },
  "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": () => ({ etag: "BwYofflineC=" }),
  "gcp:monitoring/notificationChannel:NotificationChannel": (n, i) => ({
    name: `projects/${projectOf(i)}/notificationChannels/${shortHash(n, 19).replace(/[a-z]/g, "3")}`,
  }),
  "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": (n, i) => {
    const id = `${n}-${shortHash(n, 8)}`;
    return { uptimeCheckId: id, name: `projects/${projectOf(i)}/uptimeCheckConfigs/${id}` };
  },
  "gcp:monitoring/alertPolicy:AlertPolicy": (n, i) => ({ name: `projects/${projectOf(i)}/alertPolicies/${shortHash(n, 19).replace(/[a-z]/g, "5")}` }),
  "gcp:monitoring/dashboard:Dashboard": () => ({}),
  "vercel:index/project:Project": () => ({}),
  "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable": () => ({}),
  "vercel:index/projectDomain:ProjectDomain": () => ({}),
  "vercel:index/projectRollingRelease:ProjectRollingRelease": () => ({}),
  "kubernetes:core/v1:Namespace": () => ({ status: { phase: "Active" } }),
  "kubernetes:core/v1:ServiceAccount": () => ({}),
  "kubernetes:core/v1:Service": () => ({ status: { loadBalancer: {} } }),
  "kubernetes:apps/v1:Deployment": () => ({ status: { readyReplicas: 1 } }),
  "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": () => ({}),
  "kubernetes:policy/v1:PodDisruptionBudget": () => ({}),
  "kubernetes:networking.k8s.io/v1:NetworkPolicy": () => ({}),
  "kubernetes:gateway.networking.k8s.io/v1:Gateway": () => ({}),
  "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": () => ({}),
  // The release engine's resource: offline, nothing runs; it reports what it would roll out.
  [TRAFFIC_SPLIT_TOKEN]: (_n, i) => ({ phase: "planned", stableRevision: i["stable"], candidateRevision: i["candidate"], liveCandidateWeight: 0, steps: [] }),
};

/** Component types have no cloud state; they only group children. */
const isComponentType = (type: string) => type.startsWith("delivery:");

export const KNOWN_TYPES: readonly string[] = Object.keys(COMPUTED);

function idFor(type: string, name: string, inputs: State): string {
  const meta = inputs["metadata"] as State | undefined;
  if (type.startsWith("kubernetes:"))
    return meta?.["namespace"] ? `${text(meta["namespace"], "default")}/${text(meta["name"], name)}` : text(meta?.["name"], name);
  if (type === "vercel:index/project:Project") return `prj_${shortHash(name, 24)}`;
  return text(inputs["name"] ?? inputs["secretId"] ?? inputs["accountId"], `${name}-${shortHash(type + name, 8)}`);
}

/**
 * Mocks for `pulumi.runtime.setMocks` that return realistic computed state
 * (URLs, emails, ids) and record what the program declared. Invokes and
 * unexpected types throw so nothing passes by accident.
 */
export class OfflineCloud implements pulumi.runtime.Mocks {
  readonly inputsByKey = new Map<string, State>();
  readonly outputsByKey = new Map<string, State>();

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: State } {
    const inputs = (args.inputs ?? {}) as State;
    if (args.custom === false || isComponentType(args.type)) {
      this.record(args.type, args.name, inputs);
      return { id: undefined, state: {} };
    }
    const fabricate = COMPUTED[args.type];
    if (!fabricate) throw new Error(`offline cloud: no mock for resource type ${args.type} (${args.name}); add it to src/plan/offlineCloud.ts`);
    this.record(args.type, args.name, inputs);
    const id = idFor(args.type, args.name, inputs);
    const state = { ...inputs, ...fabricate(args.name, inputs) };
    this.outputsByKey.set(`${args.type}::${args.name}`, state);
    return { id, state };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    throw new Error(`offline cloud: the program made an invoke (${args.token}); the offline plan allows none`);
  }

  private record(type: string, name: string, inputs: State) {
    const key = `${type}::${name}`;
    if (this.inputsByKey.has(key)) throw new Error(`offline cloud: two resources named ${name} of type ${type}`);
    this.inputsByKey.set(key, inputs);
  }
}
