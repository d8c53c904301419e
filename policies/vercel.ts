import { validateResourceOfType, type ReportViolation, type ResourceValidationPolicy } from "@pulumi/policy";
import * as vercel from "@pulumiverse/vercel";
import { known, read } from "./lib/policy";
import { secretReason } from "./lib/secrets";

interface EnvVar {
  key?: string;
  value?: string;
  sensitive?: boolean;
  targets?: string[];
}

/** The variables a resource declares: one for the single-variable resources, a list for ProjectEnvironmentVariables. */
function variablesOf(args: { type: string; props: Record<string, unknown> }): EnvVar[] {
  if (args.type === "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables")
    return known(() => args.props["variables"] as EnvVar[] | undefined) ?? [];
  if (
    args.type === "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable" ||
    args.type === "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable"
  )
    return [args.props];
  return [];
}

/** Why a variable is secret-like, looking at the value only when it is known. */
function secretLike(v: EnvVar): string | undefined {
  const key = known(() => v.key);
  if (typeof key !== "string") return undefined;
  const value = read(() => v.value);
  // A computed (or secret, write-only) value with a secret-like name still counts: the name says what it holds.
  return secretReason(key, value.kind === "value" ? value.value : value.kind === "unknown" ? "(computed)" : undefined);
}

function eachVariable(check: (v: EnvVar, key: string, report: ReportViolation) => void): ResourceValidationPolicy["validateResource"] {
  return (args, report) => {
    for (const v of variablesOf(args)) {
      const key = known(() => v.key);
      if (typeof key === "string") check(v, key, report);
    }
  };
}

export const vercelSensitiveEnv: ResourceValidationPolicy = {
  name: "vercel-sensitive-env",
  description: "Vercel environment variables that look like secrets are marked sensitive (write-only: unreadable in the dashboard and API after creation).",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: eachVariable((v, key, report) => {
    const why = secretLike(v);
    if (why && known(() => v.sensitive) === false) report(`${key} is not marked sensitive and ${why}: set sensitive: true.`);
  }),
};

export const vercelNoSharedSecretTargets: ResourceValidationPolicy = {
  name: "vercel-no-shared-secret-targets",
  description:
    "A secret-like Vercel variable never targets production and preview at once: preview deployments (any branch, any pull request) must not hold production credentials.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: eachVariable((v, key, report) => {
    const targets = known(() => v.targets);
    if (!Array.isArray(targets)) return;
    if (secretLike(v) && targets.includes("production") && (targets.includes("preview") || targets.includes("development"))) {
      report(
        `${key} is secret-like and targets ${targets.join(", ")}: give production its own variable (targets: ["production"]) and preview a separate, non-production credential.`,
      );
    }
  }),
};

export const vercelDeploymentProtection: ResourceValidationPolicy = {
  name: "vercel-deployment-protection",
  description:
    'Vercel projects keep deployment protection on (vercelAuthentication not "none", or password / trusted-IP protection), so unreleased deployments are not public.',
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(vercel.Project, (project, _args, report) => {
    const type = read(() => project.vercelAuthentication?.deploymentType);
    if (type.kind === "unknown" || type.kind === "absent") return; // absent: Vercel's default, standard protection
    const other = known(() => project.passwordProtection) ?? known(() => project.trustedIps);
    if (type.value === "none" && !other)
      report(
        'vercelAuthentication.deploymentType is "none": every deployment, preview included, is public. Use "standardProtectionNew" (or "allDeployments").',
      );
  }),
};

export const vercelPolicies = [vercelSensitiveEnv, vercelNoSharedSecretTargets, vercelDeploymentProtection];
