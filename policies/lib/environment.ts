import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The environment a resource belongs to. What the pack trusts, strictest
 * first: the environment its own record binds the resource's GCP project
 * to (environments.json), and the environment the stack's name says (from
 * the URN: `dev`, `staging`, `production`, or one of them followed by `-`).
 * Labels the program sets (GCP `env`, Kubernetes `delivery/environment`, the
 * traffic split's `environment` input) count only when neither is known:
 * a program cannot make a production resource look like dev.
 */
export const ENVIRONMENTS = ["dev", "staging", "production"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

const isEnvironment = (v: unknown): v is Environment => typeof v === "string" && (ENVIRONMENTS as readonly string[]).includes(v);
const rank = (e: Environment) => ENVIRONMENTS.indexOf(e);
const strictest = (envs: (Environment | undefined)[]): Environment | undefined => envs.filter(isEnvironment).sort((a, b) => rank(b) - rank(a))[0];

/** The pack's binding of GCP projects to environments (read once, from the pack's directory). */
export const PROJECT_ENVIRONMENTS: Readonly<Record<string, Environment>> = (() => {
  const file = JSON.parse(readFileSync(join(__dirname, "..", "environments.json"), "utf8")) as { projects?: Record<string, unknown> };
  const out: Record<string, Environment> = {};
  for (const [project, env] of Object.entries(file.projects ?? {})) {
    if (!isEnvironment(env))
      throw new Error(`policies/environments.json: project ${project} is bound to ${JSON.stringify(env)}, not one of ${ENVIRONMENTS.join(", ")}`);
    out[project] = env;
  }
  return out;
})();

/**
 * A project as the pack's record names it: GCP project IDs are lower case, and
 * the providers also take "projects/<id>". A project number (all digits) names
 * no ID, so it cannot be looked up.
 */
export const projectKey = (project: string) =>
  project
    .trim()
    .toLowerCase()
    .replace(/^projects\//, "");
export const isProjectNumber = (project: string) => /^\d+$/.test(projectKey(project));

/** The environment environments.json binds a project to, however the project is spelled. */
export const projectEnvironment = (project: string): Environment | undefined => PROJECT_ENVIRONMENTS[projectKey(project)];

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

/** Reads a value that may be unknown during preview (the policy SDK's proxy throws on those): undefined then. */
function safely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** The environment the program declares on the resource (labels, the split's input), or undefined. */
export function declaredEnvironment(props: Record<string, unknown>): Environment | undefined {
  return safely(() => {
    if (isEnvironment(props["environment"])) return props["environment"];
    for (const path of LABEL_PATHS) {
      const labels = at(props, path);
      if (typeof labels !== "object" || labels === null) continue;
      const l = labels as Record<string, unknown>;
      for (const key of ["env", "delivery/environment", "environment"]) if (isEnvironment(l[key])) return l[key];
    }
    return undefined;
  });
}

/** The stack's name from a resource URN (urn:pulumi:STACK::PROJECT::TYPE::NAME). */
export const stackOfUrn = (urn: string | undefined): string | undefined =>
  urn?.startsWith("urn:pulumi:") ? urn.slice("urn:pulumi:".length).split("::")[0] : undefined;

/** The environment a stack name says, as the program reads it. */
export const environmentOfStack = (stack: string | undefined): Environment | undefined =>
  stack === undefined ? undefined : ENVIRONMENTS.find((e) => stack === e || stack.startsWith(`${e}-`));

/** The GCP project the resource is in, where it says (a provider's default project is not visible to the pack). */
export const projectOf = (props: Record<string, unknown>): string | undefined =>
  safely(() => {
    const p = props["project"] ?? at(props, ["target", "project"]);
    return typeof p === "string" ? p : undefined;
  });

/** The environment the pack itself vouches for: the project binding and the stack name (the strictest of the two). */
export function boundEnvironment(props: Record<string, unknown>, urn?: string): Environment | undefined {
  const project = projectOf(props);
  return strictest([project ? projectEnvironment(project) : undefined, environmentOfStack(stackOfUrn(urn))]);
}

/** The resource's environment: what the pack vouches for, else what the program declares, else undefined. Never throws. */
export function environmentOf(props: Record<string, unknown>, urn?: string): Environment | undefined {
  return boundEnvironment(props, urn) ?? declaredEnvironment(props);
}

/** Strictness: a resource with no known environment is held to production's rules. */
export const strictEnvironmentOf = (props: Record<string, unknown>, urn?: string): Environment => environmentOf(props, urn) ?? "production";

/** The stack's environment from its resources: the strictest one any resource has. */
export function stackEnvironment(resources: readonly { props: Record<string, unknown>; urn?: string }[]): Environment | undefined {
  return strictest(resources.map((r) => environmentOf(r.props, r.urn)));
}
