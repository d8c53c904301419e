import * as gcp from "@pulumi/gcp";
import { validateResourceOfType, type ResourceValidationPolicy, type StackValidationPolicy } from "@pulumi/policy";
import { z } from "zod";
import { environmentOf, strictEnvironmentOf } from "./lib/environment";
import { isDefaultComputeAccount } from "./lib/gcp";
import { policyBindings, PUBLIC_MEMBERS } from "./lib/iamGrants";
import { absentOr, asArray, configSchemaOf, known, read, readConfig } from "./lib/policy";
import { secretReason } from "./lib/secrets";

const SERVICE = "gcp:cloudrunv2/service:Service";

type ServiceProps = Parameters<Parameters<typeof validateResourceOfType<gcp.cloudrunv2.Service, gcp.cloudrunv2.ServiceArgs>>[1]>[0];
type Container = NonNullable<NonNullable<ServiceProps["template"]>["containers"]>[number];

/** The containers whose definitions are known (a computed container list is checked at update time). */
const containersOf = (svc: ServiceProps): Container[] => asArray(known(() => svc.template?.containers));
const containerName = (c: Container) => known(() => c.name) ?? "(unnamed)";

export const cloudRunImageDigest: ResourceValidationPolicy = {
  name: "cloud-run-image-digest",
  description: "Cloud Run images in staging and production are pinned by digest (image@sha256:…), so a release deploys exactly what was scanned and tested.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.cloudrunv2.Service, (svc, args, report) => {
    if (environmentOf(args.props, args.urn) === "dev") return;
    for (const c of containersOf(svc)) {
      const image = read(() => c.image);
      if (image.kind !== "value") continue; // computed during preview: checked at update time
      if (!/@sha256:[0-9a-f]{64}$/.test(image.value))
        report(
          `container ${containerName(c)} image "${image.value}" is not pinned by digest: deploy it as <image>@sha256:<digest> (the digest your build pushed and your scanner checked).`,
        );
    }
  }),
};

const PublicConfig = z.strictObject({
  /** Cloud Run services (by name) anyone may invoke. The pack's own list: a label the program sets cannot make a service public. */
  publicServices: z.array(z.string()).default([]),
});
/** Cloud Run IAM resource types, v2 (cloudrunv2, the service's `name`) and v1 (cloudrun, the service's `service`). */
const IAM_TYPES: Readonly<Record<string, "name" | "service">> = {
  "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": "name",
  "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding": "name",
  "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy": "name",
  "gcp:cloudrun/iamMember:IamMember": "service",
  "gcp:cloudrun/iamBinding:IamBinding": "service",
  "gcp:cloudrun/iamPolicy:IamPolicy": "service",
};

/** Project, folder and organization IAM resources: a grant there reaches every Cloud Run service below it. */
const PROJECT_IAM_TYPES = new Set(
  ["projects", "folder", "organizations"].flatMap((scope) =>
    ["iAMMember:IAMMember", "iAMBinding:IAMBinding", "iAMPolicy:IAMPolicy"].map((t) => `gcp:${scope}/${t}`),
  ),
);
/** Cloud Run v1 services turn their invoker check off with this annotation. */
const V1_SERVICE = "gcp:cloudrun/service:Service";
const V1_INVOKER_IAM_DISABLED = "run.googleapis.com/invoker-iam-disabled";

/** Public members an IAM resource grants on its service (or project). */
function publicMembersOf(type: string, props: Record<string, unknown>): string[] {
  if (/(ServiceIamMember|IamMember|IAMMember)$/.test(type)) return PUBLIC_MEMBERS.filter((m) => known(() => props["member"]) === m);
  if (/(ServiceIamBinding|IamBinding|IAMBinding)$/.test(type))
    return PUBLIC_MEMBERS.filter((m) => asArray(known(() => props["members"]) as string[] | undefined).includes(m));
  const policyData = known(() => props["policyData"]);
  if (typeof policyData !== "string") return [];
  const bindings = policyBindings(policyData);
  return PUBLIC_MEMBERS.filter((m) => bindings.some((b) => b.members.includes(m)));
}

export const cloudRunNoPublicInvoker: StackValidationPolicy = {
  name: "cloud-run-no-public-invoker",
  description:
    "No allUsers/allAuthenticatedUsers on a Cloud Run service (v1 or v2 IAM resources), no service with its invoker IAM check disabled, unless this policy's own publicServices lists it; no public member in the project's IAM at all (it reaches every service). What the program labels a service does not count.",
  severity: "critical",
  enforcementLevel: "mandatory",
  configSchema: configSchemaOf(PublicConfig),
  validateStack: (args, report) => {
    const cfg = readConfig("cloud-run-no-public-invoker", PublicConfig, args);
    const services = args.resources.filter((r) => r.type === SERVICE || r.type === V1_SERVICE);
    for (const s of args.resources.filter((r) => r.type === SERVICE || r.type === V1_SERVICE)) {
      const name = known((): unknown => s.props["name"]);
      const annotations = known(() => (s.props["metadata"] as { annotations?: Record<string, string> } | undefined)?.annotations) ?? {};
      const disabled = s.type === SERVICE ? known((): unknown => s.props["invokerIamDisabled"]) === true : annotations[V1_INVOKER_IAM_DISABLED] === "true";
      if (disabled && (typeof name !== "string" || !cfg.publicServices.includes(name))) {
        report(
          `Cloud Run service ${typeof name === "string" ? name : s.name} sets invokerIamDisabled, so anyone can invoke it without any IAM check, and this policy's publicServices does not list it: remove invokerIamDisabled and grant roles/run.invoker to the callers, or add the service to publicServices in the pack config of this stack.`,
          s.urn,
        );
      }
    }
    for (const r of args.resources) {
      if (PROJECT_IAM_TYPES.has(r.type)) {
        const members = publicMembersOf(r.type, r.props);
        const role = known((): unknown => r.props["role"]);
        if (members.length > 0)
          report(
            `${r.name} grants ${members.join(", ")}${typeof role === "string" ? ` ${role}` : ""} on a whole ${r.type.split(/[:/]/)[1] === "projects" ? "project" : r.type.split(/[:/]/)[1] === "folder" ? "folder" : "organization"}, which reaches every Cloud Run service in it (publicServices cannot allow this): grant on the service itself, or name the members (group:, serviceAccount:).`,
            r.urn,
          );
        continue;
      }
      const key = IAM_TYPES[r.type];
      if (!key) continue;
      const members = publicMembersOf(r.type, r.props);
      if (members.length === 0) continue;
      // The grant is on the service it names; only while that name is unknown (preview) does the input's dependency say which.
      const named = known((): unknown => r.props[key]);
      const dependency = (r.propertyDependencies[key] ?? []).find((d) => d.type === SERVICE || d.type === V1_SERVICE);
      const serviceName = typeof named === "string" ? named : dependency && known((): unknown => dependency.props["name"]);
      // publicServices names this stack's services: a grant naming another project than the stack's service of that name is not on it.
      const project = known((): unknown => r.props["project"]);
      const sameName = services.filter((s) => known((): unknown => s.props["name"]) === serviceName);
      const elsewhere =
        typeof project === "string" &&
        sameName.length > 0 &&
        sameName.every((s) => {
          const p = known((): unknown => s.props["project"]);
          return typeof p === "string" && p !== project;
        });
      if (typeof serviceName !== "string" || !cfg.publicServices.includes(serviceName) || elsewhere) {
        report(
          `${r.name} grants ${members.join(", ")} on Cloud Run service ${typeof serviceName === "string" ? serviceName : "(unknown)"}, which this policy's publicServices does not list: remove the grant and name the invokers (group:, serviceAccount:), or add the service to publicServices in the pack config of this stack.`,
          r.urn,
        );
      }
    }
  },
};

export const cloudRunDedicatedServiceAccount: ResourceValidationPolicy = {
  name: "cloud-run-dedicated-service-account",
  description: "Cloud Run revisions run as a dedicated service account, never the default compute account (which holds Editor on the project).",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.cloudrunv2.Service, (svc, _args, report) => {
    const sa = read(() => svc.template?.serviceAccount);
    if (sa.kind === "absent")
      report(
        "template.serviceAccount is not set, so revisions run as the default compute service account: create a dedicated gcp.serviceaccount.Account with only the roles it needs and set template.serviceAccount to its email.",
      );
    else if (sa.kind === "value" && isDefaultComputeAccount(sa.value))
      report(`template.serviceAccount is the default compute account (${sa.value}): use a dedicated, least-privilege service account.`);
  }),
};

export const cloudRunSecretsFromSecretManager: ResourceValidationPolicy = {
  name: "cloud-run-secrets-from-secret-manager",
  description:
    "Environment variables that look like secrets (names such as *_KEY, *_TOKEN, *_SECRET, PASSWORD; high-entropy values; known key formats) come from Secret Manager (valueSource.secretKeyRef), never a literal value.",
  severity: "critical",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.cloudrunv2.Service, (svc, _args, report) => {
    for (const c of containersOf(svc)) {
      for (const env of asArray(known(() => c.envs))) {
        const name = known(() => env.name);
        const value = known(() => env.value);
        if (typeof name !== "string" || value === undefined) continue;
        const why = secretReason(name, value);
        if (why)
          report(
            `env ${name} of container ${containerName(c)} is a literal value and ${why}: store it in Secret Manager and reference it with valueSource.secretKeyRef { secret, version }.`,
          );
      }
    }
  }),
};

export const cloudRunProductionScaling: ResourceValidationPolicy = {
  name: "cloud-run-production-scaling",
  description:
    "In production a Cloud Run service keeps at least 2 instances warm and has a maximum instance count (no cold starts for WebSocket clients, bounded cost).",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.cloudrunv2.Service, (svc, args, report) => {
    if (strictEnvironmentOf(args.props, args.urn) !== "production") return;
    const min = read(() => svc.template?.scaling?.minInstanceCount ?? svc.scaling?.minInstanceCount);
    const max = read(() => svc.template?.scaling?.maxInstanceCount ?? svc.scaling?.maxInstanceCount);
    if (absentOr(min, (value) => value < 2))
      report(`minimum instances is ${min.kind === "value" ? min.value : "not set"}: set template.scaling.minInstanceCount to 2 or more in production.`);
    if (max.kind === "absent") report("maximum instances is not set: set template.scaling.maxInstanceCount in production.");
  }),
};

export const cloudRunResourceLimits: ResourceValidationPolicy = {
  name: "cloud-run-resource-limits",
  description: "Every Cloud Run container declares CPU and memory limits (resources.limits.cpu and .memory).",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.cloudrunv2.Service, (svc, _args, report) => {
    for (const c of containersOf(svc)) {
      for (const k of ["cpu", "memory"] as const) {
        if (read(() => c.resources?.limits?.[k]).kind === "absent")
          report(`container ${containerName(c)} has no resources.limits.${k}: set it explicitly (e.g. cpu "1", memory "512Mi").`);
      }
    }
  }),
};

const PRIVATE_ADDRESS = /\b(10\.\d{1,3}\.\d{1,3}\.\d{1,3}|172\.(1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}|192\.168\.\d{1,3}\.\d{1,3})\b/;

export const cloudRunPrivateEgressViaVpc: ResourceValidationPolicy = {
  name: "cloud-run-private-egress-via-vpc",
  description:
    "A Cloud Run service that talks to private ranges (in production, or any env value holding an RFC 1918 address) reaches them through the VPC (template.vpcAccess: Direct VPC egress or a connector) with egress PRIVATE_RANGES_ONLY or ALL_TRAFFIC.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.cloudrunv2.Service, (svc, args, report) => {
    const vpc = read(() => svc.template?.vpcAccess);
    if (vpc.kind === "unknown") return;
    const hasPath = vpc.kind === "value" && (known(() => vpc.value.connector) !== undefined || asArray(known(() => vpc.value.networkInterfaces)).length > 0);
    const privateEnvs = containersOf(svc)
      .flatMap((c) => asArray(known(() => c.envs)))
      .filter((e) => {
        const v = known(() => e.value);
        return typeof v === "string" && PRIVATE_ADDRESS.test(v);
      })
      .map((e) => e.name);
    if (!hasPath && privateEnvs.length > 0) {
      report(
        `env ${privateEnvs.join(", ")} point(s) at private addresses but the service has no VPC path: add template.vpcAccess (networkInterfaces or a connector) with egress PRIVATE_RANGES_ONLY.`,
      );
    } else if (!hasPath && strictEnvironmentOf(args.props, args.urn) === "production") {
      report(
        "production service has no template.vpcAccess: private backends (Memorystore, internal services) must be reached through the VPC; add networkInterfaces or a connector with egress PRIVATE_RANGES_ONLY.",
      );
    }
    const egress = vpc.kind === "value" ? known(() => vpc.value.egress) : undefined;
    if (hasPath && egress !== undefined && !["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"].includes(egress))
      report(`template.vpcAccess.egress is "${egress}": use PRIVATE_RANGES_ONLY or ALL_TRAFFIC.`);
  }),
};

export const cloudRunPolicies = [
  cloudRunImageDigest,
  cloudRunNoPublicInvoker,
  cloudRunDedicatedServiceAccount,
  cloudRunSecretsFromSecretManager,
  cloudRunProductionScaling,
  cloudRunResourceLimits,
  cloudRunPrivateEgressViaVpc,
];
