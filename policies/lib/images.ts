import { known } from "./policy";
import { POD_SPEC_PATH } from "./workloadKinds";

type Props = Record<string, unknown>;
const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((v, k) => (typeof v === "object" && v !== null ? (v as Props)[k] : undefined), o);

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
      const path = POD_SPEC_PATH[r.type];
      const spec = path ? get(r.props, ...path) : undefined;
      for (const list of ["containers", "initContainers"]) collect(get(spec, list));
    }
  });
  return images.filter((i): i is string => typeof i === "string");
}
