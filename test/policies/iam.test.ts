import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNKNOWN } from "../../src/policy/analyzer";
import { of, PackUnderTest, resource } from "../support/policyPack";

let pack: PackUnderTest;
beforeAll(async () => {
  pack = await PackUnderTest.start();
}, 60_000);
afterAll(async () => pack?.stop());

const IAM = {
  projectMember: "gcp:projects/iAMMember:IAMMember",
  projectBinding: "gcp:projects/iAMBinding:IAMBinding",
  projectPolicy: "gcp:projects/iAMPolicy:IAMPolicy",
  folderMember: "gcp:folder/iAMMember:IAMMember",
  folderBinding: "gcp:folder/iAMBinding:IAMBinding",
  orgMember: "gcp:organizations/iAMMember:IAMMember",
  orgPolicy: "gcp:organizations/iAMPolicy:IAMPolicy",
  projectAudit: "gcp:projects/iAMAuditConfig:IAMAuditConfig",
  folderAudit: "gcp:folder/iamAuditConfig:IamAuditConfig",
  project: "gcp:organizations/project:Project",
  key: "gcp:serviceaccount/key:Key",
  wif: "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider",
  arMember: "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
  arBinding: "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
  arPolicy: "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy",
} as const;

const NODE_SA = "serviceAccount:gke-nodes@acme-prod.iam.gserviceaccount.com";
const details = async (type: string, props: Record<string, unknown>, policy: string) => of(await pack.analyze(type, props), policy).map((d) => d.detail);
const policiesHit = async (type: string, props: Record<string, unknown>) =>
  [...new Set((await pack.analyze(type, props)).diagnostics.map((d) => d.policyName))].sort();

/** Where each scope's IAM resources name their target. */
const target = (type: string) =>
  type.startsWith("gcp:projects/") ? { project: "acme-prod" } : type.startsWith("gcp:folder/") ? { folder: "folders/123" } : { orgId: "456" };
/** One grant as a member, binding or policy resource of the type's shape. */
function grant(type: string, role: string, member: string): Record<string, unknown> {
  if (type.endsWith("Member")) return { ...target(type), role, member };
  if (type.endsWith("Binding")) return { ...target(type), role, members: ["group:platform@example.com", member] };
  return {
    ...target(type),
    policyData: JSON.stringify({
      bindings: [
        { role: "roles/logging.viewer", members: ["group:platform@example.com"] },
        { role, members: [member] },
      ],
    }),
  };
}

describe("project, folder and organization IAM", () => {
  it("a policy document is read as the provider reads it (Go's encoding/json): field names in any case, the last duplicate wins, a null binding is empty", async () => {
    const owner = { Role: "roles/owner", Members: ["user:mallory@example.com"] };
    for (const doc of [
      { Bindings: [owner] },
      { BINDINGS: [{ ROLE: "roles/owner", MEMBERS: ["user:mallory@example.com"] }] },
      { bindings: [], BINDINGS: [owner] },
      { bindings: [null, owner] },
    ])
      expect(
        await details(IAM.projectPolicy, { project: "acme-prod", policyData: JSON.stringify(doc) }, "gcp-iam-no-basic-roles"),
        JSON.stringify(doc),
      ).toEqual([expect.stringContaining("user:mallory@example.com is granted the basic role roles/owner on project acme-prod")]);
    // The other way round too: a later key empties what an earlier one granted, as the provider would apply it.
    expect(
      await details(IAM.projectPolicy, { project: "acme-prod", policyData: JSON.stringify({ Bindings: [owner], bindings: [] }) }, "gcp-iam-no-basic-roles"),
    ).toEqual([]);
  });

  it("the program's own grants (node account: logging, metrics, metadata) pass every policy, as members, bindings and policies", async () => {
    for (const role of ["roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/monitoring.viewer", "roles/stackdriver.resourceMetadata.writer"]) {
      for (const type of [IAM.projectMember, IAM.projectBinding, IAM.projectPolicy])
        expect((await pack.analyze(type, grant(type, role, NODE_SA))).diagnostics, `${type} ${role}`).toEqual([]);
    }
    expect((await pack.analyze(IAM.folderMember, grant(IAM.folderMember, "roles/browser", "group:platform@example.com"))).diagnostics).toEqual([]);
  });

  it.each<[string, string, string, string, string]>([
    [
      "gcp-iam-no-basic-roles",
      IAM.projectMember,
      "roles/viewer",
      "group:auditors@example.com",
      "group:auditors@example.com is granted the basic role roles/viewer on project acme-prod",
    ],
    [
      "gcp-iam-no-basic-roles",
      IAM.folderBinding,
      "roles/editor",
      "group:devs@example.com",
      "group:platform@example.com, group:devs@example.com are granted the basic role roles/editor on folder folders/123",
    ],
    ["gcp-iam-no-basic-roles", IAM.orgPolicy, "roles/owner", "group:admins@example.com", "the basic role roles/owner on organization 456"],
    [
      "gcp-iam-no-impersonation-roles",
      IAM.projectMember,
      "roles/iam.serviceAccountUser",
      "group:devs@example.com",
      "group:devs@example.com is granted roles/iam.serviceAccountUser on project acme-prod, which lets them act as",
    ],
    [
      "gcp-iam-no-impersonation-roles",
      IAM.folderMember,
      "roles/iam.serviceAccountTokenCreator",
      "group:ci@example.com",
      "roles/iam.serviceAccountTokenCreator on folder folders/123",
    ],
    [
      "gcp-iam-no-impersonation-roles",
      IAM.orgMember,
      "roles/iam.workloadIdentityUser",
      "group:ci@example.com",
      "roles/iam.workloadIdentityUser on organization 456",
    ],
    [
      "gcp-iam-no-impersonation-roles",
      IAM.projectBinding,
      "roles/resourcemanager.projectIamAdmin",
      "group:ops@example.com",
      "roles/resourcemanager.projectIamAdmin on project acme-prod",
    ],
    [
      "gcp-iam-no-default-service-accounts",
      IAM.projectMember,
      "roles/logging.logWriter",
      "serviceAccount:123456789-compute@developer.gserviceaccount.com",
      "serviceAccount:123456789-compute@developer.gserviceaccount.com is granted roles/logging.logWriter on project acme-prod, but default service accounts",
    ],
    [
      "gcp-iam-no-default-service-accounts",
      IAM.folderBinding,
      "roles/logging.logWriter",
      "serviceAccount:acme-prod@appspot.gserviceaccount.com",
      "serviceAccount:acme-prod@appspot.gserviceaccount.com is granted roles/logging.logWriter on folder folders/123",
    ],
    [
      "gcp-iam-no-default-service-accounts",
      IAM.projectMember,
      "roles/logging.logWriter",
      "serviceAccount:123456789-COMPUTE@DEVELOPER.GSERVICEACCOUNT.COM",
      "serviceAccount:123456789-COMPUTE@DEVELOPER.GSERVICEACCOUNT.COM is granted roles/logging.logWriter on project acme-prod, but default service accounts",
    ],
    [
      "gcp-iam-no-default-service-accounts",
      IAM.orgMember,
      "roles/logging.logWriter",
      "serviceAccount:42-compute@developer.gserviceaccount.com",
      "on organization 456",
    ],
    [
      "gcp-iam-no-privileged-service-accounts",
      IAM.projectMember,
      "roles/storage.admin",
      NODE_SA,
      "serviceAccount:gke-nodes@acme-prod.iam.gserviceaccount.com is granted roles/storage.admin on project acme-prod, an owner, editor or admin role for a service account",
    ],
    ["gcp-iam-no-privileged-service-accounts", IAM.projectPolicy, "roles/pubsub.editor", NODE_SA, "is granted roles/pubsub.editor on project acme-prod"],
    ["gcp-iam-no-privileged-service-accounts", IAM.orgMember, "roles/storage.objectAdmin", NODE_SA, "roles/storage.objectAdmin on organization 456"],
    [
      "gcp-iam-no-user-members",
      IAM.projectMember,
      "roles/logging.viewer",
      "user:alice@example.com",
      "user:alice@example.com is granted roles/logging.viewer on project acme-prod as individual users",
    ],
    [
      "gcp-iam-no-user-members",
      IAM.folderBinding,
      "roles/logging.viewer",
      "user:bob@gmail.com",
      "user:bob@gmail.com is granted roles/logging.viewer on folder folders/123",
    ],
    ["gcp-iam-no-user-members", IAM.orgPolicy, "roles/logging.viewer", "user:carol@example.com", "on organization 456 as individual users"],
  ])("%s fails on %s (%s)", async (policy, type, role, member, message) => {
    const d = await details(type, grant(type, role, member), policy);
    expect(d).toHaveLength(1);
    expect(d[0]).toContain(message);
  });

  it("a basic role is also an impersonation role (both scanners flag it twice); a service account with Owner trips three policies", async () => {
    expect(await policiesHit(IAM.projectMember, grant(IAM.projectMember, "roles/editor", "group:devs@example.com"))).toEqual([
      "gcp-iam-no-basic-roles",
      "gcp-iam-no-impersonation-roles",
    ]);
    expect(await policiesHit(IAM.projectMember, grant(IAM.projectMember, "roles/owner", NODE_SA))).toEqual([
      "gcp-iam-no-basic-roles",
      "gcp-iam-no-impersonation-roles",
      "gcp-iam-no-privileged-service-accounts",
    ]);
  });

  it("privileged roles are fine for groups; computed members wait for the update; other IAM resources are not these policies' concern", async () => {
    expect((await pack.analyze(IAM.projectMember, grant(IAM.projectMember, "roles/storage.admin", "group:storage-admins@example.com"))).diagnostics).toEqual(
      [],
    );
    expect((await pack.analyze(IAM.projectMember, { project: "acme-prod", role: "roles/owner", member: UNKNOWN })).diagnostics).toEqual([]);
    expect(
      (await pack.analyze(IAM.projectBinding, { project: "acme-prod", role: "roles/logging.viewer", members: [UNKNOWN, "group:ops@example.com"] })).diagnostics,
    ).toEqual([]);
    expect(
      (
        await pack.analyze(IAM.projectBinding, { project: "acme-prod", role: "roles/logging.viewer", members: [UNKNOWN, "user:alice@example.com"] })
      ).diagnostics.map((d) => d.policyName),
    ).toEqual(["gcp-iam-no-user-members"]);
    // A service account's own IAM (who may act as it) is granted on the account, which is what these policies ask for.
    expect(
      (
        await pack.analyze("gcp:serviceaccount/iAMMember:IAMMember", {
          serviceAccountId: "projects/acme-prod/serviceAccounts/deployer@acme-prod.iam.gserviceaccount.com",
          role: "roles/iam.serviceAccountUser",
          member: "group:ci@example.com",
        })
      ).diagnostics,
    ).toEqual([]);
  });
});

describe("gcp-audit-logging (stack)", () => {
  const project = resource(IAM.project, { projectId: "acme-sandbox", name: "sandbox", autoCreateNetwork: false }, { name: "sandbox" });
  const audit = (edit: (a: Record<string, any>) => void = () => {}, dependsOnProject = true) => {
    const a: Record<string, any> = {
      project: "acme-sandbox",
      service: "allServices",
      auditLogConfigs: [{ logType: "ADMIN_READ" }, { logType: "DATA_READ" }, { logType: "DATA_WRITE" }],
    };
    edit(a);
    return resource(IAM.projectAudit, a, { name: "audit", ...(dependsOnProject ? { propertyDependencies: { project: [project.urn] } } : {}) });
  };
  const findings = async (resources: ReturnType<typeof resource>[]) => of(await pack.analyzeStack(resources), "gcp-audit-logging").map((v) => v.detail);

  it("a project with a complete allServices audit config passes (matched by dependency or by project id)", async () => {
    expect(await findings([project, audit()])).toEqual([]);
    expect(await findings([project, audit(() => {}, false)])).toEqual([]);
    // Stacks that declare no project (deploying into an existing one) have nothing to check.
    expect(await findings([resource(IAM.projectMember, grant(IAM.projectMember, "roles/logging.logWriter", NODE_SA))])).toEqual([]);
  });

  it("a project without one fails", async () => {
    const d = await findings([project]);
    expect(d).toEqual([expect.stringContaining("project acme-sandbox has no audit config for allServices")]);
    // An audit config for one service does not cover the project.
    expect(await findings([project, audit((a) => (a.service = "storage.googleapis.com"))])).toEqual([
      expect.stringContaining("project acme-sandbox has no audit config for allServices"),
    ]);
  });

  it("an allServices config that misses a log type or exempts members fails, at any scope", async () => {
    expect(await findings([project, audit((a) => a.auditLogConfigs.pop())])).toEqual([
      expect.stringContaining("audit (allServices audit config) is incomplete: it does not log DATA_WRITE"),
    ]);
    expect(await findings([project, audit((a) => (a.auditLogConfigs[1].exemptedMembers = ["user:noisy@example.com"]))])).toEqual([
      expect.stringContaining("it exempts user:noisy@example.com from audit logging"),
    ]);
    const folder = resource(
      IAM.folderAudit,
      { folder: "folders/123", service: "allServices", auditLogConfigs: [{ logType: "ADMIN_READ" }] },
      { name: "folder-audit" },
    );
    expect(await findings([folder])).toEqual([
      expect.stringContaining("folder-audit (allServices audit config) is incomplete: it does not log DATA_READ, DATA_WRITE"),
    ]);
    expect(await findings([project, audit((a) => (a.auditLogConfigs = UNKNOWN))])).toEqual([]);
  });
});

describe("service-account keys", () => {
  it("no key resource passes (the program declares none); any key fails, an uploaded one says so", async () => {
    expect((await pack.analyze("gcp:serviceaccount/account:Account", { accountId: "ws-backend-run", displayName: "runtime" })).diagnostics).toEqual([]);
    expect(await details(IAM.key, { serviceAccountId: "deployer@acme-prod.iam.gserviceaccount.com" }, "gcp-no-service-account-keys")).toEqual([
      expect.stringContaining("this creates a user-managed service-account key, a long-lived private key for deployer@acme-prod.iam.gserviceaccount.com"),
    ]);
    expect(await details(IAM.key, { serviceAccountId: "deployer", publicKeyData: "LS0tLS1CRUdJTi..." }, "gcp-no-service-account-keys")).toEqual([
      expect.stringContaining("an uploaded public key (publicKeyData) makes a user-managed key"),
    ]);
  });
});

/** A GitHub Actions provider that passes every policy. */
function github(edit: (p: Record<string, any>) => void = () => {}): Record<string, unknown> {
  const p: Record<string, any> = {
    workloadIdentityPoolId: "ci",
    workloadIdentityPoolProviderId: "github",
    attributeMapping: { "google.subject": "assertion.sub", "attribute.repository": "assertion.repository" },
    attributeCondition: "assertion.repository == 'acme/progressive-delivery'",
    oidc: { issuerUri: "https://token.actions.githubusercontent.com" },
  };
  edit(p);
  return p;
}

describe("public members on any other IAM resource", () => {
  it.each([
    [
      "gcp:secretmanager/secretIamMember:SecretIamMember",
      { secretId: "redis-auth", role: "roles/secretmanager.secretAccessor", member: "allUsers" },
      "allUsers",
    ],
    [
      "gcp:serviceaccount/iAMMember:IAMMember",
      {
        serviceAccountId: "projects/p/serviceAccounts/run@p.iam.gserviceaccount.com",
        role: "roles/iam.serviceAccountTokenCreator",
        member: "allAuthenticatedUsers",
      },
      "allAuthenticatedUsers",
    ],
    [
      "gcp:storage/bucketIAMBinding:BucketIAMBinding",
      { bucket: "b", role: "roles/storage.objectViewer", members: ["group:ops@example.com", "allUsers"] },
      "allUsers",
    ],
    [
      "gcp:pubsub/topicIAMPolicy:TopicIAMPolicy",
      { topic: "t", policyData: JSON.stringify({ Bindings: [{ Role: "roles/pubsub.publisher", Members: ["allAuthenticatedUsers"] }] }) },
      "allAuthenticatedUsers",
    ],
  ])("gcp-iam-no-public-members: %s granting a public member fails", async (type, props, member) => {
    const d = await details(type, props, "gcp-iam-no-public-members");
    expect(d).toHaveLength(1);
    expect(d[0]).toMatch(new RegExp(`^${member} is granted roles/`));
  });

  it("gcp-iam-no-public-members: named members pass, and the types other policies judge are left to them", async () => {
    expect(
      await details(
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        { secretId: "redis-auth", role: "roles/secretmanager.secretAccessor", member: NODE_SA },
        "gcp-iam-no-public-members",
      ),
    ).toEqual([]);
    for (const type of ["gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "gcp:projects/iAMMember:IAMMember", IAM.arMember])
      expect(await details(type, { role: "roles/run.invoker", member: "allUsers" }, "gcp-iam-no-public-members"), type).toEqual([]);
  });
});

describe("Workload Identity Federation providers", () => {
  it("a provider pinned to one repository passes every policy, whichever claim pins it", async () => {
    expect((await pack.analyze(IAM.wif, github())).diagnostics).toEqual([]);
    for (const condition of [
      "assertion.repository_id == '123456789'",
      "assertion.sub == 'repo:acme/progressive-delivery:ref:refs/heads/main'",
      "assertion.repository_owner == 'acme' && assertion.repository == \"acme/progressive-delivery\"",
      "assertion.repository == 'acme/progressive-delivery' && assertion.ref != 'refs/heads/scratch'",
    ]) {
      expect(
        (
          await pack.analyze(
            IAM.wif,
            github((p) => (p.attributeCondition = condition)),
          )
        ).diagnostics,
        condition,
      ).toEqual([]);
    }
    // Another issuer: only the condition is required.
    expect(
      (
        await pack.analyze(IAM.wif, {
          attributeMapping: { "google.subject": "assertion.sub" },
          attributeCondition: "assertion.aud == 'sts'",
          oidc: { issuerUri: "https://gitlab.com" },
        })
      ).diagnostics,
    ).toEqual([]);
  });

  it("gcp-wif-provider-condition: no (or an empty) attributeCondition fails, for any issuer", async () => {
    expect(
      await details(
        IAM.wif,
        { attributeMapping: { "google.subject": "assertion.sub" }, oidc: { issuerUri: "https://gitlab.com" } },
        "gcp-wif-provider-condition",
      ),
    ).toEqual([expect.stringContaining("attributeCondition is not set, so every identity the issuer vouches for")]);
    expect(
      await details(
        IAM.wif,
        github((p) => (p.attributeCondition = "  ")),
        "gcp-wif-provider-condition",
      ),
    ).toHaveLength(1);
    expect(
      await details(
        IAM.wif,
        github((p) => (p.attributeCondition = UNKNOWN)),
        "gcp-wif-provider-condition",
      ),
    ).toEqual([]);
  });

  it.each<[string, (p: Record<string, any>) => void, string]>([
    ["no google.subject mapping", (p) => delete p.attributeMapping["google.subject"], "attributeMapping has no google.subject"],
    ["no condition", (p) => delete p.attributeCondition, "attributeCondition is not set, so any GitHub repository can use this provider"],
    ["the owner only", (p) => (p.attributeCondition = "assertion.repository_owner == 'acme'"), "it does not compare assertion.repository"],
    ["a wildcard repository", (p) => (p.attributeCondition = "assertion.sub == 'repo:acme/*:ref:refs/heads/main'"), "its assertion.sub value has a wildcard"],
    ["an abusable claim", (p) => (p.attributeCondition = "assertion.sub == 'environment:production'"), 'it matches assertion.sub on the "environment" claim'],
    ["a prefix match", (p) => (p.attributeCondition = "assertion.repository.startsWith('acme/')"), "does not pin a repository"],
    ["a disjunction", (p) => (p.attributeCondition = "assertion.repository == 'acme/app' || true"), "it is not a conjunction (&&) of comparisons"],
    ["a negation", (p) => (p.attributeCondition = "!(assertion.repository == 'acme/app')"), "it is not a conjunction (&&) of comparisons"],
    ["a ternary", (p) => (p.attributeCondition = "assertion.repository == 'acme/app' ? true : true"), "it is not a conjunction (&&) of comparisons"],
    ["the comparison inside a string", (p) => (p.attributeCondition = "'assertion.repository == \\'acme/app\\'' != ''"), "does not pin a repository"],
    [
      "the comparison inside a double-quoted string",
      (p) => (p.attributeCondition = `"assertion.repository == 'acme/app'" != ""`),
      "it does not compare assertion.repository",
    ],
  ])("gcp-wif-github-repository: %s fails", async (_what, edit, message) => {
    const d = await details(IAM.wif, github(edit), "gcp-wif-github-repository");
    expect(d).toHaveLength(1);
    expect(d[0]).toContain(message);
  });
});

describe("artifact-registry-not-public", () => {
  const repo = { project: "acme-artifacts", location: "europe", repository: "agents" };
  it("the program's reader grant to the node account passes, as member, binding or policy", async () => {
    expect((await pack.analyze(IAM.arMember, { ...repo, role: "roles/artifactregistry.reader", member: NODE_SA })).diagnostics).toEqual([]);
    expect((await pack.analyze(IAM.arBinding, { ...repo, role: "roles/artifactregistry.reader", members: [NODE_SA] })).diagnostics).toEqual([]);
    expect(
      (await pack.analyze(IAM.arPolicy, { ...repo, policyData: JSON.stringify({ bindings: [{ role: "roles/artifactregistry.reader", members: [NODE_SA] }] }) }))
        .diagnostics,
    ).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    [IAM.arMember, { role: "roles/artifactregistry.reader", member: "allUsers" }, "allUsers is granted roles/artifactregistry.reader on repository agents"],
    [
      IAM.arBinding,
      { role: "roles/artifactregistry.reader", members: [NODE_SA, "allAuthenticatedUsers"] },
      "allAuthenticatedUsers is granted roles/artifactregistry.reader on repository agents",
    ],
    [IAM.arPolicy, { policyData: JSON.stringify({ bindings: [{ role: "roles/artifactregistry.reader", members: ["allUsers"] }] }) }, "allUsers is granted"],
  ])("a public member fails on %s", async (type, grantProps, message) => {
    expect(await details(type, { ...repo, ...grantProps }, "artifact-registry-not-public")).toEqual([expect.stringContaining(message)]);
  });
});
