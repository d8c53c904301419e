import * as gcp from "@pulumi/gcp";
import { validateResourceOfType, type PolicyResource, type ResourceValidationPolicy, type StackValidationPolicy } from "@pulumi/policy";
import { grantsOf, isDefaultServiceAccountMember, isServiceAccountMember, PUBLIC_MEMBERS, SCOPED_IAM_TYPES, whereOf, type Grant } from "./lib/iamGrants";
import { absentOr, asArray, known, read } from "./lib/policy";
import { knownElements } from "./lib/values";

/**
 * IAM on projects, folders and organizations (member, binding and policy
 * resources): each policy picks the grants it objects to and reports them
 * once per role, naming the members.
 */
function scopedIamPolicy(
  p: Omit<ResourceValidationPolicy, "validateResource" | "enforcementLevel">,
  offends: (g: Grant) => boolean,
  message: (members: string, role: string, where: string) => string,
): ResourceValidationPolicy {
  return {
    ...p,
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      if (!SCOPED_IAM_TYPES.has(args.type)) return args.notApplicable("not a project, folder or organization IAM resource");
      const byRole = new Map<string, string[]>();
      for (const g of grantsOf(args.type, args.props).filter(offends)) byRole.set(g.role, [...(byRole.get(g.role) ?? []), g.member]);
      const where = whereOf(args.type, args.props);
      for (const [role, members] of byRole) report(message(`${members.join(", ")} ${members.length > 1 ? "are" : "is"}`, role, where));
    },
  };
}

export const BASIC_ROLES: readonly string[] = ["roles/owner", "roles/editor", "roles/viewer"];

export const gcpIamNoBasicRoles = scopedIamPolicy(
  {
    name: "gcp-iam-no-basic-roles",
    description:
      "No basic role (roles/owner, roles/editor, roles/viewer) is granted on a project, folder or organization: they hold thousands of permissions across every service.",
    severity: "high",
  },
  (g) => BASIC_ROLES.includes(g.role),
  (members, role, where) =>
    `${members} granted the basic role ${role} ${where}: grant the predefined roles they actually need (e.g. roles/run.developer, roles/logging.viewer) instead.`,
);

/** Roles that let a member act as, or take over, service accounts (Checkov's list; Trivy's serviceAccountUser and serviceAccountTokenCreator are in it). */
export const IMPERSONATION_ROLES: readonly string[] = [
  "roles/owner",
  "roles/editor",
  "roles/iam.securityAdmin",
  "roles/iam.serviceAccountAdmin",
  "roles/iam.serviceAccountKeyAdmin",
  "roles/iam.serviceAccountUser",
  "roles/iam.serviceAccountTokenCreator",
  "roles/iam.workloadIdentityUser",
  "roles/dataproc.editor",
  "roles/dataproc.admin",
  "roles/dataflow.developer",
  "roles/resourcemanager.folderAdmin",
  "roles/resourcemanager.folderIamAdmin",
  "roles/resourcemanager.projectIamAdmin",
  "roles/resourcemanager.organizationAdmin",
  "roles/serverless.serviceAgent",
  "roles/dataproc.serviceAgent",
];

export const gcpIamNoImpersonationRoles = scopedIamPolicy(
  {
    name: "gcp-iam-no-impersonation-roles",
    description:
      "No role that can impersonate or take over every service account (iam.serviceAccountUser, iam.serviceAccountTokenCreator, iam.workloadIdentityUser, service-account and IAM admin roles, ...) is granted on a whole project, folder or organization.",
    severity: "high",
  },
  (g) => IMPERSONATION_ROLES.includes(g.role),
  (members, role, where) =>
    `${members} granted ${role} ${where}, which lets them act as (or take over) every service account there: grant it on the one service account needed (gcp.serviceaccount.IAMMember) instead.`,
);

export const gcpIamNoDefaultServiceAccounts = scopedIamPolicy(
  {
    name: "gcp-iam-no-default-service-accounts",
    description:
      "The Compute Engine and App Engine default service accounts (*-compute@developer…, *@appspot…) get no role on a project, folder or organization: everything that runs as them would share it.",
    severity: "high",
  },
  (g) => isDefaultServiceAccountMember(g.member),
  (members, role, where) =>
    `${members} granted ${role} ${where}, but default service accounts (Compute Engine, App Engine) are shared by every VM or app that runs as them: create a dedicated service account and grant the role to it.`,
);

/** Owner, Editor, or an admin role (Trivy: ends in "admin"; Checkov: contains Admin, admin, editor or owner). */
export const isPrivilegedRole = (role: string): boolean =>
  role === "roles/owner" || role === "roles/editor" || /admin$/i.test(role) || /(Admin|admin|editor|owner)/.test(role);

export const gcpIamNoPrivilegedServiceAccounts = scopedIamPolicy(
  {
    name: "gcp-iam-no-privileged-service-accounts",
    description:
      "Service accounts hold no Owner, Editor or admin role (any role whose name contains admin, editor or owner) on a project, folder or organization: a leaked key or a compromised workload would own the scope.",
    severity: "high",
  },
  (g) => isServiceAccountMember(g.member) && isPrivilegedRole(g.role),
  (members, role, where) =>
    `${members} granted ${role} ${where}, an owner, editor or admin role for a service account: give workloads narrow roles (e.g. roles/storage.objectViewer, not roles/storage.admin) and keep administration with people, through groups.`,
);

export const gcpIamNoUserMembers = scopedIamPolicy(
  {
    name: "gcp-iam-no-user-members",
    description:
      "Project, folder and organization roles go to groups or service accounts, never to an individual user (user:…, personal addresses such as gmail.com included): access follows group membership and leaves with the person.",
    severity: "medium",
  },
  (g) => g.member.startsWith("user:"),
  (members, role, where) => `${members} granted ${role} ${where} as individual users: grant the role to a Google group (group:…) the people belong to.`,
);

const AUDIT_CONFIG_TYPES: ReadonlySet<string> = new Set([
  "gcp:projects/iAMAuditConfig:IAMAuditConfig",
  "gcp:folder/iamAuditConfig:IamAuditConfig",
  "gcp:organizations/iamAuditConfig:IamAuditConfig",
]);
const PROJECT_TYPE = "gcp:organizations/project:Project";
export const AUDIT_LOG_TYPES: readonly string[] = ["ADMIN_READ", "DATA_READ", "DATA_WRITE"];

interface AuditLogConfig {
  logType?: string;
  exemptedMembers?: string[];
}

/** What is wrong with an allServices audit config: missing log types, exempted members. Undefined while its configs are unknown. */
function auditConfigProblems(r: PolicyResource): string[] | undefined {
  const configs = read(() => r.props["auditLogConfigs"] as AuditLogConfig[] | undefined);
  if (configs.kind === "unknown") return undefined;
  const all = configs.kind === "value" ? asArray(configs.value) : [];
  const list = knownElements(all);
  const types = list.map((c) => known(() => c.logType));
  if (list.length < all.length || types.some((t) => t === undefined)) return undefined;
  const problems: string[] = [];
  const missing = AUDIT_LOG_TYPES.filter((t) => !types.includes(t));
  if (missing.length) problems.push(`it does not log ${missing.join(", ")}`);
  const exempted = list.flatMap((c) => knownElements(known(() => c.exemptedMembers)));
  if (exempted.length) problems.push(`it exempts ${exempted.join(", ")} from audit logging`);
  return problems;
}

export const gcpAuditLogging: StackValidationPolicy = {
  name: "gcp-audit-logging",
  description:
    "Cloud Audit Logs cover every service and every user: each project the stack declares has an audit config for allServices logging ADMIN_READ, DATA_READ and DATA_WRITE, and no allServices audit config (project, folder or organization) exempts anyone.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const audits = args.resources.filter((r) => AUDIT_CONFIG_TYPES.has(r.type) && known(() => r.props["service"] as unknown) === "allServices");
    // During preview a config's service may be computed: it may still be the project's allServices config.
    const maybeAudits = args.resources.filter((r) => AUDIT_CONFIG_TYPES.has(r.type) && read(() => r.props["service"] as unknown).kind === "unknown");
    for (const a of audits) {
      const problems = auditConfigProblems(a);
      if (problems?.length)
        report(
          `${a.name} (allServices audit config) is incomplete: ${problems.join("; ")}. List auditLogConfigs for ADMIN_READ, DATA_READ and DATA_WRITE, with no exemptedMembers.`,
          a.urn,
        );
    }
    for (const p of args.resources.filter((r) => r.type === PROJECT_TYPE)) {
      const projectId = known(() => p.props["projectId"] as unknown);
      const covering = [...audits, ...maybeAudits].filter(
        (a) =>
          a.type === "gcp:projects/iAMAuditConfig:IAMAuditConfig" &&
          ((a.propertyDependencies["project"] ?? []).some((d) => d.urn === p.urn) ||
            (typeof projectId === "string" && known(() => a.props["project"] as unknown) === projectId)),
      );
      if (covering.length === 0)
        report(
          `project ${typeof projectId === "string" ? projectId : p.name} has no audit config for allServices: declare a gcp.projects.IAMAuditConfig { project, service: "allServices", auditLogConfigs: ADMIN_READ, DATA_READ, DATA_WRITE }.`,
          p.urn,
        );
    }
  },
};

export const gcpNoServiceAccountKeys: ResourceValidationPolicy = {
  name: "gcp-no-service-account-keys",
  description:
    "No service-account keys (gcp.serviceaccount.Key, generated or uploaded): long-lived private keys leak; workloads use attached service accounts, Workload Identity or Workload Identity Federation, people use impersonation.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.serviceaccount.Key, (key, _args, report) => {
    const uploaded = read(() => key.publicKeyData).kind !== "absent";
    report(
      `${uploaded ? "an uploaded public key (publicKeyData) makes a user-managed key" : "this creates a user-managed service-account key, a long-lived private key"} for ${String(known(() => key.serviceAccountId) ?? "a service account")}: remove it; run workloads as the service account (GKE Workload Identity, Cloud Run's service account) and let CI authenticate through Workload Identity Federation.`,
    );
  }),
};

export const gcpWifProviderCondition: ResourceValidationPolicy = {
  name: "gcp-wif-provider-condition",
  description:
    "Every Workload Identity Federation provider has an attributeCondition, so only the identities it names (a repository, an account, a role) can exchange tokens, not everyone the issuer signs for.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.iam.WorkloadIdentityPoolProvider, (provider, _args, report) => {
    const condition = read(() => provider.attributeCondition);
    if (absentOr(condition, (value) => value.trim() === "")) {
      report(
        "attributeCondition is not set, so every identity the issuer vouches for (for GitHub: every repository on github.com) can federate: set it, e.g. assertion.repository == 'acme/app'.",
      );
    }
  }),
};

export const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
/** GitHub OIDC claims anyone can choose in their own repository (Checkov's list): a condition on them alone pins nothing. */
const ABUSABLE_CLAIMS = ["workflow", "environment", "ref", "context", "head_ref", "base_ref"];
const OWNER_REPO = /^[A-Za-z0-9_.-]+(@\d+)?\/[A-Za-z0-9_.-]+(@\d+)?$/;

/** Why a GitHub provider's condition does not pin a repository, or undefined when it does. */
export function githubConditionProblem(condition: string): string | undefined {
  // String literals are set aside first, so text inside a string is never read as a comparison.
  const literals: string[] = [];
  const code = condition.replace(/'([^'\\]*)'|"([^"\\]*)"/g, (_m, single: string | undefined, double: string | undefined) => {
    literals.push(single ?? double ?? "");
    return ` \u0000${literals.length - 1}\u0000 `;
  });
  // A pin is only a pin when every other term must hold too: any ||, ?: or ! could let another repository through.
  if (/\|\||\?|!(?!=)|['"\\]/.test(code))
    return "it is not a conjunction (&&) of comparisons: a ||, ?:, ! or an unterminated string can let any repository through";
  const equals = (claim: string) => [...code.matchAll(new RegExp(`assertion\\.${claim}\\s*==\\s*\u0000(\\d+)\u0000`, "g"))].map((m) => literals[Number(m[1])]!);
  if (equals("repository").some((v) => OWNER_REPO.test(v)) || equals("repository_id").some((v) => /^\d+$/.test(v))) return undefined;
  const subs = equals("sub");
  for (const sub of subs) {
    const [claim, value] = sub.split(":");
    if (claim === "repo" && value !== undefined && OWNER_REPO.test(value) && !sub.includes("*")) return undefined;
    if (claim && ABUSABLE_CLAIMS.includes(claim)) return `it matches assertion.sub on the "${claim}" claim, which any repository can produce`;
  }
  if (subs.some((s) => s.includes("*"))) return "its assertion.sub value has a wildcard";
  return "it does not compare assertion.repository, assertion.repository_id or assertion.sub ('repo:<owner>/<repo>:…') with one repository";
}

export const gcpWifGithubRepository: ResourceValidationPolicy = {
  name: "gcp-wif-github-repository",
  description:
    "A Workload Identity Federation provider for GitHub Actions (issuer token.actions.githubusercontent.com) maps google.subject and its attributeCondition pins the repository (assertion.repository, assertion.repository_id, or assertion.sub 'repo:<owner>/<repo>:…'), so another repository cannot borrow its service accounts.",
  severity: "critical",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.iam.WorkloadIdentityPoolProvider, (provider, _args, report) => {
    const issuer = known(() => provider.oidc?.issuerUri);
    if (typeof issuer !== "string" || issuer.replace(/\/+$/, "") !== GITHUB_ISSUER) return;
    const mapping = read(() => provider.attributeMapping);
    if (absentOr(mapping, (value) => !Object.keys(value).includes("google.subject"))) {
      report('attributeMapping has no google.subject: map it (e.g. "google.subject": "assertion.sub") so every token has an auditable principal.');
    }
    const condition = read(() => provider.attributeCondition);
    if (condition.kind !== "value" || condition.value.trim() === "") {
      if (condition.kind === "absent" || condition.kind === "value")
        report("attributeCondition is not set, so any GitHub repository can use this provider: set it to assertion.repository == '<owner>/<repo>'.");
      return;
    }
    const problem = githubConditionProblem(condition.value);
    if (problem)
      report(
        `attributeCondition "${condition.value}" does not pin a repository: ${problem}. Compare assertion.repository (or assertion.repository_id) with the one repository allowed, e.g. assertion.repository == 'acme/app'.`,
      );
  }),
};

const ARTIFACT_REGISTRY_IAM_TYPES: ReadonlySet<string> = new Set(
  ["RepositoryIamMember", "RepositoryIamBinding", "RepositoryIamPolicy"].map((t) => `gcp:artifactregistry/${t[0]!.toLowerCase()}${t.slice(1)}:${t}`),
);

export const artifactRegistryNotPublic: ResourceValidationPolicy = {
  name: "artifact-registry-not-public",
  description:
    "No Artifact Registry repository is readable by allUsers or allAuthenticatedUsers (member, binding or policy): images carry code, configuration and sometimes secrets.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!ARTIFACT_REGISTRY_IAM_TYPES.has(args.type)) return args.notApplicable("not an Artifact Registry repository IAM resource");
    const repository = known(() => args.props["repository"] as unknown);
    for (const g of grantsOf(args.type, args.props)) {
      if (PUBLIC_MEMBERS.includes(g.member))
        report(
          `${g.member} is granted ${g.role} on repository ${typeof repository === "string" ? repository : "(unknown)"}: anyone could pull its images. Grant the readers by name (serviceAccount:, group:).`,
        );
    }
  },
};

/** IAM types another policy already judges for public members (Cloud Run's allowlist, whole scopes, Artifact Registry). */
const PUBLIC_JUDGED_ELSEWHERE = /^gcp:(cloudrun|cloudrunv2|projects|folder|organizations|artifactregistry)\//;

export const gcpIamNoPublicMembers: ResourceValidationPolicy = {
  name: "gcp-iam-no-public-members",
  description:
    "No IAM member, binding or policy on any other resource (a secret, a service account, a bucket, a topic, ...) grants allUsers or allAuthenticatedUsers: anyone with a Google account would hold the role.",
  severity: "critical",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (!/^gcp:.*Iam(Member|Binding|Policy)$/i.test(args.type) || PUBLIC_JUDGED_ELSEWHERE.test(args.type))
      return args.notApplicable("not an IAM resource this policy judges");
    for (const g of grantsOf(args.type, args.props)) {
      if (PUBLIC_MEMBERS.includes(g.member))
        report(
          `${g.member} is granted ${g.role} by this ${args.type.split(":").pop()}: anyone could use it. Grant the role to named members (serviceAccount:, group:).`,
        );
    }
  },
};

export const iamPolicies = [
  gcpIamNoBasicRoles,
  gcpIamNoImpersonationRoles,
  gcpIamNoDefaultServiceAccounts,
  gcpIamNoPrivilegedServiceAccounts,
  gcpIamNoUserMembers,
  gcpAuditLogging,
  gcpNoServiceAccountKeys,
  gcpWifProviderCondition,
  gcpWifGithubRepository,
  artifactRegistryNotPublic,
  gcpIamNoPublicMembers,
];
