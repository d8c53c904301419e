import * as k8s from "@pulumi/kubernetes";
import { validateResourceOfType, type ReportViolation, type ResourceValidation, type ResourceValidationArgs } from "@pulumi/policy";
import type { Unwrap } from "@pulumi/pulumi";
import { known } from "./policy";
import { POD_SPEC_PATH } from "./workloadKinds";

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
 * One check applied to Pods and to the pod templates of Deployments,
 * StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs. Each kind
 * matches by its type token (validateResourceOfType), so every other
 * resource is "not applicable" rather than silently passed.
 */
export function onPodTemplates(check: Check): ResourceValidation {
  const templated =
    (tmpl: () => { metadata?: unknown; spec?: unknown } | undefined, replicas?: () => number | undefined) =>
    (args: ResourceValidationArgs, report: ReportViolation) => {
      const t = known(tmpl);
      const spec = t && known(() => t.spec);
      if (!spec) return; // computed during preview, or absent (the API server would reject it)
      check(
        {
          path: POD_SPEC_PATH[args.type]!.join("."),
          metadata: known(() => t.metadata) as PodMeta | undefined,
          spec: spec as PodSpec,
          replicas: replicas ? known(replicas) : undefined,
        },
        args,
        report,
      );
    };
  const byType = [
    validateResourceOfType(k8s.core.v1.Pod, (p, args, report) => templated(() => ({ metadata: p.metadata, spec: p.spec }))(args, report)),
    validateResourceOfType(k8s.apps.v1.Deployment, (d, args, report) =>
      templated(
        () => d.spec?.template,
        () => d.spec?.replicas,
      )(args, report),
    ),
    validateResourceOfType(k8s.apps.v1.StatefulSet, (s, args, report) =>
      templated(
        () => s.spec?.template,
        () => s.spec?.replicas,
      )(args, report),
    ),
    validateResourceOfType(k8s.apps.v1.DaemonSet, (d, args, report) => templated(() => d.spec?.template)(args, report)),
    validateResourceOfType(k8s.apps.v1.ReplicaSet, (r, args, report) =>
      templated(
        () => r.spec?.template,
        () => r.spec?.replicas,
      )(args, report),
    ),
    validateResourceOfType(k8s.batch.v1.Job, (j, args, report) => templated(() => j.spec?.template)(args, report)),
    validateResourceOfType(k8s.batch.v1.CronJob, (c, args, report) => templated(() => c.spec?.jobTemplate?.spec?.template)(args, report)),
  ];
  // One dispatch by type (one "not applicable" for any other resource, instead of one per kind: the SDK throws for each).
  const validations = new Map(byType.map((v) => [(v as { __pulumiType?: string }).__pulumiType!, v]));
  return (args, report) => {
    const v = validations.get(args.type);
    if (!v) return args.notApplicable(`only applies to ${[...validations.keys()].join(", ")}`);
    return v(args, report);
  };
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
