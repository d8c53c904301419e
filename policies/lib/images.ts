import { known } from "./policy";

type Props = Record<string, unknown>;
const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (typeof v === "object" && v !== null ? (v as Props)[k] : undefined), o);

/** The pod spec of a Kubernetes workload (outputs or inputs), by kind. */
function podSpecOf(type: string, props: Props): unknown {
  if (type === "kubernetes:core/v1:Pod") return get(props, "spec");
  if (/^kubernetes:(apps\/v1:(Deployment|StatefulSet|DaemonSet|ReplicaSet)|batch\/v1:Job)$/.test(type)) return get(props, "spec", "template", "spec");
  if (type === "kubernetes:batch/v1:CronJob") return get(props, "spec", "jobTemplate", "spec", "template", "spec");
  return undefined;
}

/** Known container images a resource deploys (Cloud Run services and jobs, Kubernetes workloads). */
export function podTemplateImages(r: { type: string; props: Props }): string[] {
  const images: unknown[] = [];
  const collect = (containers: unknown) => {
    if (Array.isArray(containers)) for (const c of containers) images.push(known(() => get(c, "image")));
  };
  known(() => {
    if (r.type === "gcp:cloudrunv2/service:Service") collect(get(r.props, "template", "containers"));
    else if (r.type === "gcp:cloudrunv2/job:Job") collect(get(r.props, "template", "template", "containers"));
    else {
      const spec = podSpecOf(r.type, r.props);
      for (const list of ["containers", "initContainers"]) collect(get(spec, list));
    }
  });
  return images.filter((i): i is string => typeof i === "string");
}
