import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNKNOWN } from "../../src/policy/analyzer";
import { of, PackUnderTest, resource, TYPES } from "../support/policyPack";

let pack: PackUnderTest;
beforeAll(async () => {
  pack = await PackUnderTest.start();
}, 60_000);
afterAll(async () => pack?.stop());

const DIGEST = "europe-docker.pkg.dev/acme/ws/backend@sha256:" + "b".repeat(64);
const labels = (env: string) => ({ env, owner: "platform", "managed-by": "pulumi", access: "public" });

/** A production Cloud Run service that passes every Cloud Run policy; tests break one thing each. */
function service(edit: (s: Record<string, any>) => void = () => {}, env = "production"): Record<string, unknown> {
  const s: Record<string, any> = {
    name: "ws-backend",
    location: "europe-west1",
    labels: labels(env),
    template: {
      serviceAccount: "ws-backend@acme-prod.iam.gserviceaccount.com",
      scaling: { minInstanceCount: 2, maxInstanceCount: 20 },
      vpcAccess: { networkInterfaces: [{ network: "vpc", subnetwork: "run" }], egress: "PRIVATE_RANGES_ONLY" },
      containers: [
        {
          name: "backend",
          image: DIGEST,
          resources: { limits: { cpu: "2", memory: "4Gi" } },
          envs: [
            { name: "APP_ENV", value: env },
            { name: "REDIS_HOST", value: "10.20.0.3" },
            { name: "REDIS_AUTH", valueSource: { secretKeyRef: { secret: "redis-auth", version: "latest" } } },
          ],
        },
      ],
    },
  };
  edit(s);
  return s;
}

const detailsOf = async (type: string, props: Record<string, unknown>, policy: string) => of(await pack.analyze(type, props), policy).map((d) => d.detail);

describe("Cloud Run policies", () => {
  it("a well-configured production service passes every policy", async () => {
    const r = await pack.analyze(TYPES.runService, service());
    expect(r.diagnostics).toEqual([]);
  });

  it("cloud-run-image-digest: tags fail in staging and production, pass in dev", async () => {
    const tagged = (env: string) => service((s) => (s.template.containers[0].image = "europe-docker.pkg.dev/acme/ws/backend:1.8.0"), env);
    expect((await detailsOf(TYPES.runService, tagged("production"), "cloud-run-image-digest"))[0]).toContain(
      'image "europe-docker.pkg.dev/acme/ws/backend:1.8.0" is not pinned by digest',
    );
    expect(await detailsOf(TYPES.runService, tagged("staging"), "cloud-run-image-digest")).toHaveLength(1);
    expect(await detailsOf(TYPES.runService, tagged("dev"), "cloud-run-image-digest")).toEqual([]);
    // A computed image (a build output) is left for update time, not failed during preview.
    expect(
      await detailsOf(
        TYPES.runService,
        service((s) => (s.template.containers[0].image = UNKNOWN)),
        "cloud-run-image-digest",
      ),
    ).toEqual([]);
  });

  it("cloud-run-dedicated-service-account: absent or default compute account fails; unknown during preview does not", async () => {
    expect(
      (
        await detailsOf(
          TYPES.runService,
          service((s) => delete s.template.serviceAccount),
          "cloud-run-dedicated-service-account",
        )
      )[0],
    ).toContain("revisions run as the default compute service account");
    expect(
      (
        await detailsOf(
          TYPES.runService,
          service((s) => (s.template.serviceAccount = "123456789-compute@developer.gserviceaccount.com")),
          "cloud-run-dedicated-service-account",
        )
      )[0],
    ).toContain("is the default compute account");
    expect(
      await detailsOf(
        TYPES.runService,
        service((s) => (s.template.serviceAccount = UNKNOWN)),
        "cloud-run-dedicated-service-account",
      ),
    ).toEqual([]);
  });

  it.each([
    ["a secret-like name", { name: "STRIPE_API_KEY", value: "not-telling" }, "its name looks like a secret"],
    ["a password", { name: "DB_PASSWORD", value: "hunter2" }, "its name looks like a secret"],
    ["a known key format", { name: "UPSTREAM", value: "AIza" + "S".repeat(35) }, "its value looks like a Google API key"],
    ["a high-entropy value", { name: "SESSION_SEED", value: "q8F#2kLz!9vBx7Rt%4mWp0Yc" }, "its value is a high-entropy string"],
    ["credentials in a URL", { name: "DATABASE_URL", value: "postgres://app:s3cr3t@10.0.0.5/app" }, "its value looks like a URL with embedded credentials"],
  ])("cloud-run-secrets-from-secret-manager: flags %s", async (_what, env, why) => {
    const d = await detailsOf(
      TYPES.runService,
      service((s) => s.template.containers[0].envs.push(env)),
      "cloud-run-secrets-from-secret-manager",
    );
    expect(d).toHaveLength(1);
    expect(d[0]).toContain(`env ${env.name} of container backend is a literal value and ${why}`);
  });

  it("cloud-run-secrets-from-secret-manager: plain config, public key ids and secretKeyRef references pass", async () => {
    const ok = service((s) =>
      s.template.containers[0].envs.push(
        { name: "FIREBASE_PROJECT_ID", value: "acme-prod" },
        { name: "CORS_ORIGIN", value: "https://app.example.com" },
        { name: "LOG_LEVEL", value: "info" },
      ),
    );
    expect(await detailsOf(TYPES.runService, ok, "cloud-run-secrets-from-secret-manager")).toEqual([]);
  });

  it("cloud-run-production-scaling: min < 2 or no max fails in production only", async () => {
    const low = service((s) => (s.template.scaling = { minInstanceCount: 0 }));
    const d = await detailsOf(TYPES.runService, low, "cloud-run-production-scaling");
    expect(d).toEqual([expect.stringContaining("minimum instances is 0"), expect.stringContaining("maximum instances is not set")]);
    expect(
      await detailsOf(
        TYPES.runService,
        service((s) => (s.template.scaling = { minInstanceCount: 0 }), "dev"),
        "cloud-run-production-scaling",
      ),
    ).toEqual([]);
  });

  it("cloud-run-resource-limits: a missing memory limit fails", async () => {
    const d = await detailsOf(
      TYPES.runService,
      service((s) => (s.template.containers[0].resources = { limits: { cpu: "1" } })),
      "cloud-run-resource-limits",
    );
    expect(d).toEqual([expect.stringContaining("container backend has no resources.limits.memory")]);
  });

  it("cloud-run-private-egress-via-vpc: private addresses without a VPC path fail; a bad egress value fails", async () => {
    const noVpc = (env: string) => service((s) => delete s.template.vpcAccess, env);
    expect((await detailsOf(TYPES.runService, noVpc("dev"), "cloud-run-private-egress-via-vpc"))[0]).toContain("env REDIS_HOST point(s) at private addresses");
    const publicOnly = service((s) => {
      delete s.template.vpcAccess;
      s.template.containers[0].envs = [{ name: "APP_ENV", value: "production" }];
    });
    expect((await detailsOf(TYPES.runService, publicOnly, "cloud-run-private-egress-via-vpc"))[0]).toContain("production service has no template.vpcAccess");
    expect(
      (
        await detailsOf(
          TYPES.runService,
          service((s) => (s.template.vpcAccess.egress = "SOMETIMES")),
          "cloud-run-private-egress-via-vpc",
        )
      )[0],
    ).toContain('egress is "SOMETIMES"');
  });

  it("cloud-run-no-public-invoker: allUsers needs the service in the pack's own publicServices; a label from the program does not count", async () => {
    const svc = resource(
      TYPES.runService,
      service((s) => (s.labels = { ...s.labels, access: "private" })),
      { name: "backend" },
    );
    const grant = resource(
      TYPES.runIamMember,
      { name: "ws-backend", role: "roles/run.invoker", member: "allUsers" },
      { name: "backend-invoker-0", propertyDependencies: { name: [svc.urn] } },
    );
    const bad = of(await pack.analyzeStack([svc, grant]), "cloud-run-no-public-invoker");
    expect(bad).toHaveLength(1);
    expect(bad[0]!.detail).toContain("backend-invoker-0 grants allUsers on Cloud Run service ws-backend, which this policy's publicServices does not list");
    expect(bad[0]!.urn).toBe(grant.urn);

    // The program labelling its service access=public changes nothing.
    const labelled = resource(TYPES.runService, service(), { name: "backend2" });
    const grant2 = { ...grant, propertyDependencies: { name: [labelled.urn] } };
    expect(of(await pack.analyzeStack([labelled, grant2]), "cloud-run-no-public-invoker")).toHaveLength(1);
    expect(
      of(
        await pack.analyzeStack([svc, grant], { "cloud-run-no-public-invoker": { properties: { publicServices: ["ws-backend"] } } }),
        "cloud-run-no-public-invoker",
      ),
    ).toEqual([]);

    const binding = resource(TYPES.runIamBinding, {
      name: "ws-backend",
      role: "roles/run.invoker",
      members: ["group:ops@example.com", "allAuthenticatedUsers"],
    });
    expect(of(await pack.analyzeStack([svc, binding]), "cloud-run-no-public-invoker")[0]!.detail).toContain("grants allAuthenticatedUsers");
    const named = resource(TYPES.runIamMember, { name: "ws-backend", role: "roles/run.invoker", member: "group:ops@example.com" });
    expect(of(await pack.analyzeStack([svc, named]), "cloud-run-no-public-invoker")).toEqual([]);

    // The grant is on the service it names, whatever it depends on: an allowed service's dependency does not cover another name.
    const allowWs = { "cloud-run-no-public-invoker": { properties: { publicServices: ["ws-backend"] } } };
    const other = resource(
      TYPES.runIamMember,
      { name: "internal-api", role: "roles/run.invoker", member: "allUsers" },
      { name: "sneaky", propertyDependencies: { name: [svc.urn] } },
    );
    expect(of(await pack.analyzeStack([svc, other], allowWs), "cloud-run-no-public-invoker").map((v) => v.detail)).toEqual([
      expect.stringContaining("sneaky grants allUsers on Cloud Run service internal-api"),
    ]);
    // An allowed name in another project than this stack's service of that name is not that service.
    const inProject = resource(
      TYPES.runService,
      service((x) => (x.project = "acme-delivery-prod")),
      { name: "backend-prod" },
    );
    const elsewhere = resource(
      "gcp:cloudrun/iamMember:IamMember",
      { service: "ws-backend", project: "acme-billing-prod", location: "us-central1", role: "roles/run.invoker", member: "allUsers" },
      { name: "billing-invoker" },
    );
    const here = resource(
      "gcp:cloudrun/iamMember:IamMember",
      { service: "ws-backend", project: "acme-delivery-prod", location: "europe-west1", role: "roles/run.invoker", member: "allUsers" },
      { name: "our-invoker" },
    );
    expect(of(await pack.analyzeStack([inProject, elsewhere, here], allowWs), "cloud-run-no-public-invoker").map((v) => v.urn)).toEqual([elsewhere.urn]);
  });

  it("cloud-run-no-public-invoker: the v1 Cloud Run IAM types (gcp.cloudrun.IamMember, IamBinding, IamPolicy) are held to the same rule", async () => {
    const member = resource(
      "gcp:cloudrun/iamMember:IamMember",
      { service: "ws-backend", location: "europe-west1", role: "roles/run.invoker", member: "allUsers" },
      { name: "v1-member" },
    );
    const binding = resource(
      "gcp:cloudrun/iamBinding:IamBinding",
      { service: "ws-backend", location: "europe-west1", role: "roles/run.invoker", members: ["allAuthenticatedUsers"] },
      { name: "v1-binding" },
    );
    const policy = resource(
      "gcp:cloudrun/iamPolicy:IamPolicy",
      { service: "ws-backend", location: "europe-west1", policyData: JSON.stringify({ bindings: [{ role: "roles/run.invoker", members: ["allUsers"] }] }) },
      { name: "v1-policy" },
    );
    const shouted = resource(
      "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy",
      { name: "ws-backend", location: "europe-west1", policyData: JSON.stringify({ BINDINGS: [{ ROLE: "roles/run.invoker", MEMBERS: ["allUsers"] }] }) },
      { name: "v2-policy-upper-case" },
    );
    expect(of(await pack.analyzeStack([shouted]), "cloud-run-no-public-invoker").map((v) => v.urn)).toEqual([shouted.urn]);
    expect(
      of(await pack.analyzeStack([member, binding, policy]), "cloud-run-no-public-invoker")
        .map((v) => v.urn)
        .sort(),
    ).toEqual([binding.urn, member.urn, policy.urn].sort());
    expect(
      of(
        await pack.analyzeStack([member, binding, policy], { "cloud-run-no-public-invoker": { properties: { publicServices: ["ws-backend"] } } }),
        "cloud-run-no-public-invoker",
      ),
    ).toEqual([]);
  });

  it("cloud-run-no-public-invoker: a service that disables its invoker IAM check is public, unless publicServices lists it", async () => {
    const open = resource(
      TYPES.runService,
      service((s) => (s.invokerIamDisabled = true)),
      { name: "open" },
    );
    const bad = of(await pack.analyzeStack([open]), "cloud-run-no-public-invoker");
    expect(bad.map((v) => [v.urn, v.detail.slice(0, 63)])).toEqual([[open.urn, "Cloud Run service ws-backend sets invokerIamDisabled, so anyone"]]);
    expect(
      of(await pack.analyzeStack([open], { "cloud-run-no-public-invoker": { properties: { publicServices: ["ws-backend"] } } }), "cloud-run-no-public-invoker"),
    ).toEqual([]);
    expect(
      of(
        await pack.analyzeStack([
          resource(
            TYPES.runService,
            service((s) => (s.invokerIamDisabled = false)),
          ),
        ]),
        "cloud-run-no-public-invoker",
      ),
    ).toEqual([]);
  });

  it("cloud-run-no-public-invoker: a public member in the project's IAM reaches every service; publicServices cannot allow it", async () => {
    const member = resource(
      "gcp:projects/iAMMember:IAMMember",
      { project: "acme-prod", role: "roles/run.invoker", member: "allUsers" },
      { name: "project-member" },
    );
    const binding = resource(
      "gcp:projects/iAMBinding:IAMBinding",
      { project: "acme-prod", role: "roles/run.invoker", members: ["group:ops@example.com", "allUsers"] },
      { name: "project-binding" },
    );
    const policy = resource(
      "gcp:projects/iAMPolicy:IAMPolicy",
      { project: "acme-prod", policyData: JSON.stringify({ bindings: [{ role: "roles/viewer", members: ["allAuthenticatedUsers"] }] }) },
      { name: "project-policy" },
    );
    const named = resource(
      "gcp:projects/iAMMember:IAMMember",
      { project: "acme-prod", role: "roles/run.invoker", member: "serviceAccount:web@acme-prod.iam.gserviceaccount.com" },
      { name: "project-named" },
    );
    const allowAll = { "cloud-run-no-public-invoker": { properties: { publicServices: ["ws-backend"] } } };
    const found = of(await pack.analyzeStack([member, binding, policy, named], allowAll), "cloud-run-no-public-invoker");
    expect(found.map((v) => v.urn).sort()).toEqual([binding.urn, member.urn, policy.urn].sort());
    expect(found.find((v) => v.urn === member.urn)!.detail).toContain("project-member grants allUsers roles/run.invoker on a whole project");
    // Above the project, too.
    const folder = resource(
      "gcp:folder/iAMMember:IAMMember",
      { folder: "folders/1", role: "roles/run.invoker", member: "allUsers" },
      { name: "folder-member" },
    );
    const org = resource(
      "gcp:organizations/iAMBinding:IAMBinding",
      { orgId: "1", role: "roles/run.invoker", members: ["allAuthenticatedUsers"] },
      { name: "org-binding" },
    );
    const above = of(await pack.analyzeStack([folder, org], allowAll), "cloud-run-no-public-invoker");
    expect(above.map((v) => v.detail.split(", which")[0]).sort()).toEqual([
      "folder-member grants allUsers roles/run.invoker on a whole folder",
      "org-binding grants allAuthenticatedUsers roles/run.invoker on a whole organization",
    ]);
  });

  it("cloud-run-no-public-invoker: a v1 service with the invoker-iam-disabled annotation is public too", async () => {
    const v1 = (value: string) =>
      resource(
        "gcp:cloudrun/service:Service",
        { name: "ws-backend", location: "europe-west1", metadata: { annotations: { "run.googleapis.com/invoker-iam-disabled": value } } },
        { name: `v1-${value}` },
      );
    expect(of(await pack.analyzeStack([v1("true")]), "cloud-run-no-public-invoker").map((v) => v.detail.slice(0, 63))).toEqual([
      "Cloud Run service ws-backend sets invokerIamDisabled, so anyone",
    ]);
    expect(of(await pack.analyzeStack([v1("false")]), "cloud-run-no-public-invoker")).toEqual([]);
  });
});

/** A cluster and node pool that pass every GKE policy. */
function cluster(edit: (c: Record<string, any>) => void = () => {}): Record<string, unknown> {
  const c: Record<string, any> = {
    name: "agents",
    location: "europe-west1",
    removeDefaultNodePool: true,
    initialNodeCount: 1,
    resourceLabels: labels("production"),
    privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: false, masterIpv4CidrBlock: "172.16.0.0/28" },
    workloadIdentityConfig: { workloadPool: "acme-prod.svc.id.goog" },
    releaseChannel: { channel: "REGULAR" },
    datapathProvider: "ADVANCED_DATAPATH",
    masterAuth: { clientCertificateConfig: { issueClientCertificate: false } },
    masterAuthorizedNetworksConfig: { cidrBlocks: [{ cidrBlock: "203.0.113.0/24", displayName: "ci" }] },
  };
  edit(c);
  return c;
}
function nodePool(edit: (n: Record<string, any>) => void = () => {}): Record<string, unknown> {
  const n: Record<string, any> = {
    cluster: "agents",
    management: { autoRepair: true, autoUpgrade: true },
    nodeConfig: {
      serviceAccount: "gke-nodes@acme-prod.iam.gserviceaccount.com",
      workloadMetadataConfig: { mode: "GKE_METADATA" },
      shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
      resourceLabels: labels("production"),
    },
  };
  edit(n);
  return n;
}

describe("GKE policies", () => {
  it("a hardened cluster and node pool pass every policy", async () => {
    expect((await pack.analyze(TYPES.cluster, cluster())).diagnostics).toEqual([]);
    expect((await pack.analyze(TYPES.nodePool, nodePool())).diagnostics).toEqual([]);
  });

  it.each<[string, "cluster" | "nodePool", (x: Record<string, any>) => void, string]>([
    ["gke-private-nodes", "cluster", (c) => (c.privateClusterConfig.enablePrivateNodes = false), "enablePrivateNodes is not true"],
    ["gke-private-nodes", "nodePool", (n) => (n.networkConfig = { enablePrivateNodes: false }), "this pool's nodes get public IPs"],
    ["gke-workload-identity", "cluster", (c) => delete c.workloadIdentityConfig, "workloadPool is not set"],
    ["gke-workload-identity", "nodePool", (n) => (n.nodeConfig.workloadMetadataConfig.mode = "GCE_METADATA"), 'mode is "GCE_METADATA"'],
    ["gke-shielded-nodes", "cluster", (c) => (c.enableShieldedNodes = false), "enableShieldedNodes is false"],
    ["gke-shielded-nodes", "nodePool", (n) => (n.nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring = false), "enableIntegrityMonitoring is false"],
    ["gke-release-channel", "cluster", (c) => (c.releaseChannel.channel = "UNSPECIFIED"), 'releaseChannel.channel is "UNSPECIFIED"'],
    ["gke-network-policy", "cluster", (c) => delete c.datapathProvider, "NetworkPolicy objects would not be enforced"],
    ["gke-legacy-abac-off", "cluster", (c) => (c.enableLegacyAbac = true), "enableLegacyAbac is true"],
    ["gke-no-legacy-auth", "cluster", (c) => (c.masterAuth.clientCertificateConfig.issueClientCertificate = true), "issueClientCertificate is true"],
    ["gke-master-authorized-networks", "cluster", (c) => delete c.masterAuthorizedNetworksConfig, "masterAuthorizedNetworksConfig is not set"],
    ["gke-master-authorized-networks", "cluster", (c) => c.masterAuthorizedNetworksConfig.cidrBlocks.push({ cidrBlock: "0.0.0.0/0" }), "lists 0.0.0.0/0"],
    ["gke-master-authorized-networks", "cluster", (c) => c.masterAuthorizedNetworksConfig.cidrBlocks.push({ cidrBlock: "128.0.0.0/1" }), "lists 128.0.0.0/1"],
    ["gke-node-auto-repair-upgrade", "nodePool", (n) => (n.management.autoUpgrade = false), "management.autoUpgrade is false"],
    ["gke-node-service-account", "nodePool", (n) => delete n.nodeConfig.serviceAccount, "nodes run as the default compute service account"],
    ["gke-node-service-account", "cluster", (c) => delete c.removeDefaultNodePool, "the default node pool runs as the default compute service account"],
  ])("%s fails on the %s", async (policy, kind, edit, message) => {
    const props = kind === "cluster" ? cluster(edit) : nodePool(edit);
    const d = await detailsOf(kind === "cluster" ? TYPES.cluster : TYPES.nodePool, props, policy);
    expect(d).toHaveLength(1);
    expect(d[0]).toContain(message);
  });

  it("network policy: the Calico add-on also counts; unknown during preview is not a failure", async () => {
    expect(
      await detailsOf(
        TYPES.cluster,
        cluster((c) => {
          delete c.datapathProvider;
          c.networkPolicy = { enabled: true };
        }),
        "gke-network-policy",
      ),
    ).toEqual([]);
    expect(
      await detailsOf(
        TYPES.cluster,
        cluster((c) => (c.datapathProvider = UNKNOWN)),
        "gke-network-policy",
      ),
    ).toEqual([]);
  });
});

describe("environments the program cannot fake", () => {
  const inStack = (stack: string, type: string, props: Record<string, unknown>, name = "r") => ({
    ...resource(type, props, { name }),
    urn: `urn:pulumi:${stack}::progressive-delivery::${type}::${name}`,
  });

  it("a production project's service is held to production's rules even when labelled dev (image digests)", async () => {
    const devLabelled = service(
      (s) => ((s.labels = labels("dev")), (s.project = "acme-delivery-prod"), (s.template.containers[0].image = "europe-docker.pkg.dev/p/r/app:latest")),
    );
    expect(await detailsOf(TYPES.runService, devLabelled, "cloud-run-image-digest")).toHaveLength(1);
    const trulyDev = service(
      (s) => ((s.labels = labels("dev")), (s.project = "acme-delivery-dev"), (s.template.containers[0].image = "europe-docker.pkg.dev/p/r/app:latest")),
    );
    expect(await detailsOf(TYPES.runService, trulyDev, "cloud-run-image-digest")).toEqual([]);
  });

  it("environment-binding: labels that disagree with the project's binding or the stack's name, and a stack deploying into another environment's project", async () => {
    const analyze = async (r: ReturnType<typeof inStack>) => of(await pack.analyzeResource(r), "environment-binding").map((v) => v.detail);
    expect(
      await analyze(
        inStack(
          "production",
          TYPES.runService,
          service((s) => ((s.labels = labels("production")), (s.project = "acme-delivery-prod"))),
        ),
      ),
    ).toEqual([]);
    expect(
      await analyze(
        inStack(
          "production",
          TYPES.runService,
          service((s) => ((s.labels = labels("dev")), (s.project = "acme-delivery-prod"))),
        ),
      ),
    ).toEqual([
      "declared dev (labels or environment input), but its GCP project acme-delivery-prod is production (policies/environments.json): the project decides.",
      "declared dev (labels or environment input), but stack production is production: the stack's name decides.",
    ]);
    expect(
      await analyze(
        inStack(
          "dev-feature-x",
          TYPES.runService,
          service((s) => ((s.labels = labels("dev")), (s.project = "acme-delivery-prod"))),
        ),
      ),
    ).toEqual([
      "stack dev-feature-x is dev, but it deploys into GCP project acme-delivery-prod, which policies/environments.json binds to production.",
      "declared dev (labels or environment input), but its GCP project acme-delivery-prod is production (policies/environments.json): the project decides.",
    ]);
    // However the project is spelled: "projects/<id>" and upper case are the same project to the providers.
    for (const spelled of ["projects/acme-delivery-prod", "ACME-DELIVERY-PROD", " acme-delivery-prod "])
      expect(
        await analyze(
          inStack(
            "staging",
            TYPES.runService,
            service((s) => ((s.labels = labels("staging")), (s.project = spelled))),
          ),
        ),
      ).toEqual([
        `stack staging is staging, but it deploys into GCP project ${spelled}, which policies/environments.json binds to production.`,
        `declared staging (labels or environment input), but its GCP project ${spelled} is production (policies/environments.json): the project decides.`,
      ]);
    // A project number cannot be bound, so it is not taken on trust (a provider resource included).
    expect(await analyze(inStack("staging", "pulumi:providers:gcp", { project: "123456789012" }))).toEqual([
      "GCP project 123456789012 is given by number, which policies/environments.json cannot bind to an environment: use the project ID, so the pack can check that stack staging deploys into its own environment's project.",
    ]);
    // A Kubernetes object has no project: the stack's name decides.
    const ns = inStack("production", TYPES.namespace, { metadata: { name: "agents", labels: { "delivery/environment": "dev" } } });
    expect(await analyze(ns)).toEqual(["declared dev (labels or environment input), but stack production is production: the stack's name decides."]);
  });
});
