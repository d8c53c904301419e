import { asArray, known } from "./policy";
import { knownElements } from "./values";

/** Where an IAM resource grants: a project, a folder or an organization. */
export type IamScope = "project" | "folder" | "organization";

const SCOPES: Readonly<Record<string, IamScope>> = { projects: "project", folder: "folder", organizations: "organization" };

/**
 * The project, folder and organization IAM resources (`@pulumi/gcp` type
 * tokens): member (one role, one member), binding (one role, its members,
 * authoritative for the role) and policy (the whole policy as JSON).
 */
export const SCOPED_IAM_TYPES: ReadonlySet<string> = new Set(
  Object.keys(SCOPES).flatMap((module) => ["iAMMember:IAMMember", "iAMBinding:IAMBinding", "iAMPolicy:IAMPolicy"].map((t) => `gcp:${module}/${t}`)),
);

/** "project", "folder" or "organization" for a scoped IAM type. */
export const scopeOf = (type: string): IamScope => SCOPES[type.slice("gcp:".length).split("/")[0]!] ?? "project";

/** One role granted to one member, as far as it is known during preview. */
export interface Grant {
  role: string;
  member: string;
}

/**
 * The grants an IAM member, binding or policy resource makes (`member`,
 * `members`, or the `bindings` of `policyData`). Values not known yet
 * (computed during preview) are left out: the same check runs at update.
 * Works for any IAM resource of these three shapes (project, folder,
 * organization, Artifact Registry repository, ...).
 */
export function grantsOf(type: string, props: Record<string, unknown>): Grant[] {
  const role = known(() => props["role"]);
  if (/Member$/i.test(type)) {
    const member = known(() => props["member"]);
    return typeof role === "string" && typeof member === "string" ? [{ role, member }] : [];
  }
  if (/Binding$/i.test(type)) {
    if (typeof role !== "string") return [];
    return knownElements(known(() => props["members"]) as unknown[] | undefined)
      .filter((m): m is string => typeof m === "string")
      .map((member) => ({ role, member }));
  }
  if (/Policy$/i.test(type)) {
    const data = known(() => props["policyData"]);
    return typeof data === "string" ? policyBindings(data).flatMap((b) => b.members.map((member) => ({ role: b.role, member }))) : [];
  }
  return [];
}

/** The value of a JSON object's field as Go's encoding/json decodes it into a struct: any case, the last such key wins. */
function goField(o: unknown, name: string): unknown {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return undefined;
  let value: unknown;
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === name) value = v;
  return value;
}

/**
 * The bindings of an IAM `policyData` document as the Google provider reads
 * it (Go's encoding/json into the API's Policy: field names in any case, so
 * `{"Bindings":[{"Role":…}]}` grants exactly what `bindings` would; a null
 * binding is an empty one). Unparseable JSON grants nothing here: the
 * provider refuses it before anything is applied.
 */
export function policyBindings(policyData: string): { role: string; members: string[] }[] {
  let doc: unknown;
  try {
    doc = JSON.parse(policyData);
  } catch {
    return [];
  }
  return asArray(goField(doc, "bindings") as unknown[] | undefined).flatMap((b) => {
    const role = goField(b, "role");
    if (typeof role !== "string") return [];
    const members = asArray(goField(b, "members") as unknown[] | undefined).filter((m): m is string => typeof m === "string");
    return [{ role, members }];
  });
}

/** "on project acme-prod", "on folder folders/123", "on organization 456", or the scope alone when its id is not known. */
export function whereOf(type: string, props: Record<string, unknown>): string {
  const scope = scopeOf(type);
  const id = known(() => props[scope === "project" ? "project" : scope === "folder" ? "folder" : "orgId"]);
  return typeof id === "string" ? `on ${scope} ${id}` : `on the ${scope}`;
}

export const PUBLIC_MEMBERS: readonly string[] = ["allUsers", "allAuthenticatedUsers"];

/** The Compute Engine or App Engine default service account (as an IAM member or a bare email). */
export const isDefaultServiceAccountMember = (member: string): boolean =>
  // Case-insensitive: IAM compares e-mail addresses without case, and so does the provider.
  /-compute@developer\.gserviceaccount\.com$/i.test(member) || /@appspot\.gserviceaccount\.com$/i.test(member);

/** A service account as a member: `serviceAccount:` (Trivy), or any member naming an `*.iam.gserviceaccount.com` address (Checkov). */
export const isServiceAccountMember = (member: string): boolean => /^serviceAccount:/i.test(member) || /@.*\.iam\.gserviceaccount\.com$/i.test(member);
