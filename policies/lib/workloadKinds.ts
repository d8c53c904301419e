/**
 * Where each Kubernetes workload kind holds its pod spec (the Pulumi type
 * token → property path). The one list of workload kinds the policies know:
 * the built-in controllers and Pods, their server-side-apply Patch forms
 * (same shape, every field optional), ReplicationControllers, PodTemplates
 * and Argo Rollouts (a Deployment's pod template under another kind).
 */
const KINDS: Readonly<Record<string, readonly string[]>> = {
  "core/v1:Pod": ["spec"],
  "core/v1:PodTemplate": ["template", "spec"],
  "core/v1:ReplicationController": ["spec", "template", "spec"],
  "apps/v1:Deployment": ["spec", "template", "spec"],
  "apps/v1:StatefulSet": ["spec", "template", "spec"],
  "apps/v1:DaemonSet": ["spec", "template", "spec"],
  "apps/v1:ReplicaSet": ["spec", "template", "spec"],
  "batch/v1:Job": ["spec", "template", "spec"],
  "batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
};

export const POD_SPEC_PATH: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(Object.entries(KINDS).flatMap(([kind, path]) => [[`kubernetes:${kind}`, path] as const, [`kubernetes:${kind}Patch`, path] as const])),
  "kubernetes:argoproj.io/v1alpha1:Rollout": ["spec", "template", "spec"],
};

/** Where a kind keeps its replica count (the kinds that have one). */
export const replicasPath = (type: string): readonly string[] | undefined =>
  /:(Deployment|StatefulSet|ReplicaSet|ReplicationController|Rollout)(Patch)?$/.test(type) ? ["spec", "replicas"] : undefined;

/** The pod template's metadata sits beside its spec (a Pod's at the top). */
export const podMetadataPath = (type: string): readonly string[] | undefined => {
  const path = POD_SPEC_PATH[type];
  return path && [...path.slice(0, -1), "metadata"];
};

export const isWorkload = (type: string): boolean => type in POD_SPEC_PATH;
/** A server-side-apply patch of an object owned elsewhere (its namespace's policies are not this stack's to declare). */
export const isPatch = (type: string): boolean => type.endsWith("Patch");
