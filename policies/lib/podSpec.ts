import type * as k8s from "@pulumi/kubernetes";
import type { ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";
import type { Unwrap } from "@pulumi/pulumi";
import { known } from "./policy";
import { podMetadataPath, POD_SPEC_PATH, replicasPath } from "./workloadKinds";

export type PodSpec = Unwrap<k8s.types.input.core.v1.PodSpec>;
export type PodMeta = Unwrap<k8s.types.input.meta.v1.ObjectMeta>;
export type Container = Unwrap<k8s.types.input.core.v1.Container>;

/** A pod (or pod template) as the checks see it: where it sits, its metadata and its spec. */
export interface PodTemplate {
  /** Where the spec sits in the resource, for messages ("spec.template.spec"). */
  path: string;
  metadata: PodMeta | undefined;
  spec: PodSpec;
  /** The controller's replica count, when it has one. */
  replicas?: number | undefined;
}

type Check = (pod: PodTemplate, args: ResourceValidationArgs, report: ReportViolation) => void;

/**
 * One check applied to Pods and to the pod template of every workload kind
 * workloadKinds.ts lists (Deployments, StatefulSets, DaemonSets, ReplicaSets,
 * Jobs, CronJobs, ReplicationControllers, PodTemplates, Argo Rollouts, and
 * their Patch forms). Any other resource is "not applicable", never
 * silently passed; one dispatch by type answers that once, not once per kind.
 */
export function onPodTemplates(check: Check): ResourceValidation {
  return (args, report) => {
    const path = POD_SPEC_PATH[args.type];
    if (!path) return args.notApplicable("only applies to Kubernetes workloads and their pod templates");
    const spec = known(() => at(args.props, path));
    if (typeof spec !== "object" || spec === null) return; // computed during preview, or absent (nothing to run)
    const replicas = replicasPath(args.type);
    const count = replicas ? known(() => at(args.props, replicas)) : undefined;
    check(
      {
        path: path.join("."),
        metadata: known(() => at(args.props, podMetadataPath(args.type)!)) as PodMeta | undefined,
        spec: spec as PodSpec,
        replicas: typeof count === "number" ? count : undefined,
      },
      args,
      report,
    );
  };
}

/** A property path's value; undefined where the path ends early. Unknown values throw (read through `known`). */
function at(o: unknown, path: readonly string[]): unknown {
  let v = o;
  for (const k of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

export type ContainerKind = "containers" | "initContainers" | "ephemeralContainers";
export interface NamedContainer {
  kind: ContainerKind;
  name: string;
  c: Container;
}

/** Every container of the pod with its list name (the checks cover all three lists). */
export function allContainers(spec: PodSpec): NamedContainer[] {
  const out: NamedContainer[] = [];
  for (const kind of ["containers", "initContainers", "ephemeralContainers"] as const) {
    const list = known(() => spec[kind]) ?? [];
    if (!Array.isArray(list)) continue;
    for (const c of list) out.push({ kind, name: String(known(() => c.name) ?? "(unnamed)"), c });
  }
  return out;
}
