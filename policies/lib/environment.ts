/**
 * The environment a resource belongs to, read from what the program
 * declares on it: GCP labels (`env`), Kubernetes labels
 * (`delivery/environment`), or the traffic split's `environment` input.
 * Unknown or absent means "unknown": callers pick the strict reading.
 */
export const ENVIRONMENTS = ["dev", "staging", "production"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

const isEnvironment = (v: unknown): v is Environment => typeof v === "string" && (ENVIRONMENTS as readonly string[]).includes(v);

/** Label maps that can carry the environment, by resource type. */
const LABEL_PATHS: readonly (readonly string[])[] = [
  ["labels"],
  ["resourceLabels"],
  ["userLabels"],
  ["nodeConfig", "resourceLabels"],
  ["metadata", "labels"],
  ["spec", "template", "metadata", "labels"],
];

function at(props: unknown, path: readonly string[]): unknown {
  let v: unknown = props;
  for (const k of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** The resource's declared environment, or undefined. Never throws on unknown values. */
export function environmentOf(props: Record<string, unknown>): Environment | undefined {
  try {
    if (isEnvironment(props["environment"])) return props["environment"];
    for (const path of LABEL_PATHS) {
      const labels = at(props, path);
      if (typeof labels !== "object" || labels === null) continue;
      const l = labels as Record<string, unknown>;
      for (const key of ["env", "delivery/environment", "environment"]) if (isEnvironment(l[key])) return l[key];
    }
  } catch {
    // An unknown label map during preview: the environment is not known yet.
  }
  return undefined;
}

/** Strictness: a resource with no declared environment is held to production's rules. */
export const strictEnvironmentOf = (props: Record<string, unknown>): Environment => environmentOf(props) ?? "production";

/** The stack's environment from its resources: the strictest one any resource declares. */
export function stackEnvironment(resources: readonly { props: Record<string, unknown> }[]): Environment | undefined {
  const found = new Set(resources.map((r) => environmentOf(r.props)).filter((e): e is Environment => e !== undefined));
  for (const e of [...ENVIRONMENTS].reverse()) if (found.has(e)) return e;
  return undefined;
}
