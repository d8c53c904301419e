import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { allContainers, onPodTemplates } from "./lib/podSpec";
import { absentOr, known, read } from "./lib/policy";
import { isPatch, isWorkload } from "./lib/workloadKinds";

const RUN_TO_COMPLETION = /^kubernetes:batch\/v1:(Job|CronJob)$/;

export const k8sResources: ResourceValidationPolicy = {
  name: "k8s-resources",
  description:
    "Every container declares CPU and memory requests and limits, so the scheduler and the autoscaler work from real numbers and a leak cannot starve the node.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: onPodTemplates((pod, _args, report) => {
    for (const { kind, name, c } of allContainers(pod.spec)) {
      if (kind === "ephemeralContainers") continue; // ephemeral containers cannot have resources
      const resources = known(() => c.resources);
      if (resources === undefined && known(() => JSON.stringify(c)) === undefined) continue; // unknown during preview
      const missing = [
        ...(["cpu", "memory"] as const).filter((k) => known(() => resources?.requests?.[k]) === undefined).map((k) => `requests.${k}`),
        ...(["cpu", "memory"] as const).filter((k) => known(() => resources?.limits?.[k]) === undefined).map((k) => `limits.${k}`),
      ];
      if (missing.length)
        report(`${pod.path}.${kind} "${name}" has no resources.${missing.join(", resources.")}: set them (requests what it needs, limits what it may use).`);
    }
  }),
};

export const k8sProbes: ResourceValidationPolicy = {
  name: "k8s-probes",
  description: "Long-running containers have a readiness probe (no traffic before ready, none while draining) and a liveness probe (restart when stuck).",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: onPodTemplates((pod, args, report) => {
    if (RUN_TO_COMPLETION.test(args.type)) return;
    for (const { kind, name, c } of allContainers(pod.spec)) {
      if (kind !== "containers") continue;
      const missing = (["readinessProbe", "livenessProbe"] as const).filter((p) => read(() => c[p]).kind === "absent");
      if (missing.length)
        report(`${pod.path}.containers "${name}" has no ${missing.join(" and no ")}: add an HTTP probe on the service's /ready and /health endpoints.`);
    }
  }),
};

export const k8sReadOnlyRootFilesystem: ResourceValidationPolicy = {
  name: "k8s-read-only-root-filesystem",
  description: "Containers run with a read-only root filesystem (securityContext.readOnlyRootFilesystem); write to an emptyDir where needed.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: onPodTemplates((pod, _args, report) => {
    const bad = allContainers(pod.spec)
      .filter(({ kind, c }) => {
        const ro = read(() => c.securityContext?.readOnlyRootFilesystem);
        return kind !== "ephemeralContainers" && absentOr(ro, (value) => value !== true);
      })
      .map((x) => `"${x.name}"`);
    if (bad.length)
      report(
        `${pod.path}: containers ${bad.join(", ")} do not set securityContext.readOnlyRootFilesystem=true; set it and mount an emptyDir for scratch space.`,
      );
  }),
};

/** The tag of an image reference, "" without one; digests count as pinned. */
export function imageTag(image: string): { digest: boolean; tag: string } {
  if (image.includes("@sha256:")) return { digest: true, tag: "" };
  const lastSlash = image.lastIndexOf("/");
  const colon = image.indexOf(":", lastSlash + 1);
  return { digest: false, tag: colon === -1 ? "" : image.slice(colon + 1) };
}

export const k8sNoLatestTag: ResourceValidationPolicy = {
  name: "k8s-no-latest-tag",
  description: "Container images name a version: never the `latest` tag or no tag at all (which means latest), so a rollback redeploys what ran before.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: onPodTemplates((pod, _args, report) => {
    for (const { kind, name, c } of allContainers(pod.spec)) {
      const image = known(() => c.image);
      if (typeof image !== "string") continue;
      const { digest, tag } = imageTag(image);
      if (!digest && (tag === "" || tag === "latest"))
        report(`${pod.path}.${kind} "${name}" uses image "${image}" (${tag ? "tag latest" : "no tag, so latest"}): pin a version tag or, better, a digest.`);
    }
  }),
};

const namespaceOf = (r: PolicyResource): string | undefined => {
  const ns = known(() => (r.props["metadata"] as { namespace?: string } | undefined)?.namespace);
  return ns ?? (read(() => (r.props["metadata"] as { namespace?: string } | undefined)?.namespace).kind === "unknown" ? undefined : "default");
};

/** Namespaces that belong to the cluster, not to a stack's workloads. */
const SYSTEM_NAMESPACES = /^(kube-.*|default)$/;

/** Helm releases and charts name the namespace their whole rendered manifest goes into. */
const HELM_TYPES = new Set(["kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"]);

export const k8sNoSystemNamespace: StackValidationPolicy = {
  name: "k8s-no-system-namespace",
  description:
    "No workload of this stack runs in, and no Namespace it declares is, default or a kube-* namespace: their pods sit beside the cluster's own components, without the stack's NetworkPolicies and Pod Security labels owning the namespace.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const r of args.resources) {
      const ns =
        r.type === "kubernetes:core/v1:Namespace"
          ? known(() => (r.props["metadata"] as { name?: string } | undefined)?.name)
          : isWorkload(r.type)
            ? namespaceOf(r)
            : HELM_TYPES.has(r.type)
              ? known(() => r.props["namespace"] as string | undefined)
              : undefined;
      if (typeof ns === "string" && SYSTEM_NAMESPACES.test(ns))
        report(
          `${r.type === "kubernetes:core/v1:Namespace" ? "the stack declares" : `${r.name} runs in`} the namespace "${ns}", which belongs to the cluster: give the stack's workloads their own namespace (workloads.namespace).`,
          r.urn,
        );
    }
  },
};

export const k8sNamespaceNetworkPolicy: StackValidationPolicy = {
  name: "k8s-namespace-network-policy",
  description:
    "Every namespace this stack runs workloads in (or declares) has at least one NetworkPolicy, so pods are not open to the whole cluster by default.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const covered = new Set(
      args.resources
        .filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy")
        .map(namespaceOf)
        .filter((n): n is string => n !== undefined),
    );
    const namespaces = new Map<string, PolicyResource>();
    for (const r of args.resources) {
      if (r.type === "kubernetes:core/v1:Namespace") {
        const name = known(() => (r.props["metadata"] as { name?: string } | undefined)?.name);
        if (name) namespaces.set(name, r);
      } else if (isWorkload(r.type) && !isPatch(r.type)) {
        const ns = namespaceOf(r);
        if (ns && !namespaces.has(ns)) namespaces.set(ns, r);
      }
    }
    for (const [ns, r] of namespaces) {
      if (!covered.has(ns))
        report(`namespace "${ns}" has no NetworkPolicy: declare a default-deny policy and allow only the traffic the workloads need.`, r.urn);
    }
  },
};

/** Does a label selector select pods with these labels (matchLabels and matchExpressions)? */
export function selects(
  selector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return false;
  const ml = selector.matchLabels ?? {};
  const me = selector.matchExpressions ?? [];
  if (Object.keys(ml).length === 0 && me.length === 0) return true; // an empty selector selects every pod
  if (!Object.entries(ml).every(([k, v]) => labels[k] === v)) return false;
  return me.every((e) => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(labels[e.key]!);
      case "NotIn":
        return !has || !(e.values ?? []).includes(labels[e.key]!);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}

export const k8sPodDisruptionBudget: StackValidationPolicy = {
  name: "k8s-pod-disruption-budget",
  description:
    "A Deployment or StatefulSet that runs more than one replica (directly or through its HorizontalPodAutoscaler's minReplicas) has a PodDisruptionBudget selecting its pods, so node upgrades never take all replicas at once.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const pdbs = args.resources.filter((r) => r.type === "kubernetes:policy/v1:PodDisruptionBudget");
    const hpas = args.resources.filter((r) => r.type === "kubernetes:autoscaling/v2:HorizontalPodAutoscaler");
    for (const r of args.resources.filter((x) => /^kubernetes:apps\/v1:(Deployment|StatefulSet)$/.test(x.type))) {
      const spec = known(() => r.props["spec"] as { replicas?: number; template?: { metadata?: { labels?: Record<string, string> } } } | undefined);
      const labels = known(() => spec?.template?.metadata?.labels);
      const name = known(() => (r.props["metadata"] as { name?: string } | undefined)?.name);
      const ns = namespaceOf(r);
      if (!spec || !labels || !name || !ns) continue; // unknown during preview
      const hpaMin = hpas
        .filter((h) => namespaceOf(h) === ns && known(() => (h.props["spec"] as { scaleTargetRef?: { name?: string } }).scaleTargetRef?.name) === name)
        .map((h) => known(() => (h.props["spec"] as { minReplicas?: number }).minReplicas) ?? 1);
      const replicas = Math.max(spec.replicas ?? 1, ...hpaMin);
      if (replicas <= 1) continue;
      const covered = pdbs.some(
        (p) =>
          namespaceOf(p) === ns &&
          selects(
            known(() => (p.props["spec"] as { selector?: Parameters<typeof selects>[0] }).selector),
            labels,
          ),
      );
      if (!covered)
        report(
          `${r.type.split(":").pop()} ${ns}/${name} runs ${replicas} replicas but no PodDisruptionBudget selects its pods: add one with maxUnavailable: 1 (or minAvailable).`,
          r.urn,
        );
    }
  },
};

export const workloadPolicies = [
  k8sResources,
  k8sProbes,
  k8sReadOnlyRootFilesystem,
  k8sNoLatestTag,
  k8sNoSystemNamespace,
  k8sNamespaceNetworkPolicy,
  k8sPodDisruptionBudget,
];
