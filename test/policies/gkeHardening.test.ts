import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNKNOWN } from "../../src/policy/analyzer";
import { of, PackUnderTest, resource, TYPES } from "../support/policyPack";

let pack: PackUnderTest;
beforeAll(async () => {
  pack = await PackUnderTest.start();
}, 60_000);
afterAll(async () => pack?.stop());

const labels = (env: string) => ({ env, owner: "platform", "managed-by": "pulumi" });

/** A production cluster that passes every policy of the pack (gke.ts and gkeHardening.ts); tests break one thing each. */
function cluster(edit: (c: Record<string, any>) => void = () => {}, env = "production"): Record<string, unknown> {
  const c: Record<string, any> = {
    name: "agents",
    location: "europe-west1",
    removeDefaultNodePool: true,
    initialNodeCount: 1,
    resourceLabels: labels(env),
    networkingMode: "VPC_NATIVE",
    ipAllocationPolicy: { clusterSecondaryRangeName: "pods", servicesSecondaryRangeName: "services" },
    enableIntranodeVisibility: true,
    privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: false, masterIpv4CidrBlock: "172.16.0.0/28" },
    workloadIdentityConfig: { workloadPool: "acme-prod.svc.id.goog" },
    releaseChannel: { channel: "STABLE" },
    datapathProvider: "ADVANCED_DATAPATH",
    masterAuth: { clientCertificateConfig: { issueClientCertificate: false } },
    masterAuthorizedNetworksConfig: { cidrBlocks: [{ cidrBlock: "203.0.113.0/24", displayName: "ci" }] },
    binaryAuthorization: { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" },
    loggingConfig: { enableComponents: ["SYSTEM_COMPONENTS", "WORKLOADS"] },
    monitoringConfig: { enableComponents: ["SYSTEM_COMPONENTS"], managedPrometheus: { enabled: true } },
  };
  edit(c);
  return c;
}

/** A cluster that keeps its default pool, configured as strictly as a managed pool (for the default-pool branches). */
const keptDefaultPool = (edit: (c: Record<string, any>) => void = () => {}) =>
  cluster((c) => {
    delete c.removeDefaultNodePool;
    c.nodeConfig = {
      serviceAccount: "gke-nodes@acme-prod.iam.gserviceaccount.com",
      imageType: "COS_CONTAINERD",
      metadata: { "disable-legacy-endpoints": "true" },
      shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
    };
    edit(c);
  });

function nodePool(edit: (n: Record<string, any>) => void = () => {}, env = "production"): Record<string, unknown> {
  const n: Record<string, any> = {
    cluster: "agents",
    location: "europe-west1",
    management: { autoRepair: true, autoUpgrade: true },
    nodeConfig: {
      imageType: "COS_CONTAINERD",
      serviceAccount: "gke-nodes@acme-prod.iam.gserviceaccount.com",
      workloadMetadataConfig: { mode: "GKE_METADATA" },
      shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
      metadata: { "disable-legacy-endpoints": "true" },
      resourceLabels: labels(env),
    },
  };
  edit(n);
  return n;
}

const details = async (type: string, props: Record<string, unknown>, policy: string) => of(await pack.analyze(type, props), policy).map((d) => d.detail);

describe("GKE hardening (the scanners' GKE checks)", () => {
  it("a hardened cluster and node pool pass every policy", async () => {
    expect((await pack.analyze(TYPES.cluster, cluster())).diagnostics).toEqual([]);
    expect((await pack.analyze(TYPES.nodePool, nodePool())).diagnostics).toEqual([]);
  });

  it("a cluster that keeps a strictly configured default pool passes every policy but gke-separate-node-pools", async () => {
    expect((await pack.analyze(TYPES.cluster, keptDefaultPool())).diagnostics.map((d) => d.policyName)).toEqual(["gke-separate-node-pools"]);
  });

  it("a kept default pool is held to the node pools' Workload Identity and integrity-monitoring rules", async () => {
    const weak = keptDefaultPool();
    (weak["nodeConfig"] as Record<string, any>).workloadMetadataConfig = { mode: "GCE_METADATA" };
    (weak["nodeConfig"] as Record<string, any>).shieldedInstanceConfig = { enableSecureBoot: true, enableIntegrityMonitoring: false };
    const d = (await pack.analyze(TYPES.cluster, weak)).diagnostics;
    expect(d.filter((x) => x.policyName === "gke-workload-identity").map((x) => x.detail)).toEqual([
      'nodeConfig.workloadMetadataConfig.mode is "GCE_METADATA" for the default node pool: set it to "GKE_METADATA" so pods use Workload Identity, not the node\'s service account.',
    ]);
    expect(d.filter((x) => x.policyName === "gke-shielded-nodes").map((x) => x.detail)).toEqual([
      "nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring is false for the default node pool: keep integrity monitoring on.",
    ]);
  });

  it.each<[string, "cluster" | "nodePool", (x: Record<string, any>) => void, string]>([
    ["gke-logging-monitoring", "cluster", (c) => (c.loggingService = "none"), 'loggingService is "none": that turns it off'],
    [
      "gke-logging-monitoring",
      "cluster",
      (c) => (c.monitoringService = "monitoring.googleapis.com"),
      'monitoringService is "monitoring.googleapis.com": that is not GKE\'s Kubernetes integration',
    ],
    ["gke-logging-monitoring", "cluster", (c) => (c.loggingConfig.enableComponents = []), "loggingConfig.enableComponents is []: without SYSTEM_COMPONENTS"],
    [
      "gke-logging-monitoring",
      "cluster",
      (c) => (c.monitoringConfig.enableComponents = ["APISERVER"]),
      "monitoringConfig.enableComponents is [APISERVER]: without SYSTEM_COMPONENTS",
    ],
    [
      "gke-node-image-cos",
      "nodePool",
      (n) => (n.nodeConfig.imageType = "UBUNTU_CONTAINERD"),
      'nodeConfig.imageType is "UBUNTU_CONTAINERD": use "COS_CONTAINERD"',
    ],
    ["gke-vpc-native", "cluster", (c) => ((c.networkingMode = "ROUTES"), delete c.ipAllocationPolicy), 'networkingMode is "ROUTES": use "VPC_NATIVE"'],
    [
      "gke-legacy-metadata-endpoints",
      "nodePool",
      (n) => (n.nodeConfig.metadata["disable-legacy-endpoints"] = "false"),
      'nodeConfig.metadata["disable-legacy-endpoints"] is "false"',
    ],
    ["gke-legacy-metadata-endpoints", "cluster", (c) => (c.minMasterVersion = "1.11.10-gke.5"), 'minMasterVersion is "1.11.10-gke.5": before 1.12'],
    ["gke-secure-boot", "nodePool", (n) => delete n.nodeConfig.shieldedInstanceConfig.enableSecureBoot, "enableSecureBoot is not set (off by default)"],
    ["gke-secure-boot", "nodePool", (n) => (n.nodeConfig.shieldedInstanceConfig.enableSecureBoot = false), "enableSecureBoot is false"],
    ["gke-separate-node-pools", "cluster", (c) => (c.nodePools = [{ name: "inline", nodeCount: 1 }]), "declares 1 node pool(s) inline"],
    ["gke-separate-node-pools", "cluster", (c) => (c.removeDefaultNodePool = false), "the default node pool is kept"],
    ["gke-no-alpha-features", "cluster", (c) => (c.enableKubernetesAlpha = true), "enableKubernetesAlpha is true"],
    ["gke-production-multi-zone", "cluster", (c) => (c.location = "europe-west1-b"), "location is the zone europe-west1-b"],
    ["gke-production-multi-zone", "cluster", (c) => (c.nodeLocations = ["europe-west1-b", "europe-west1-c"]), "nodeLocations lists 2 zone(s)"],
  ])("%s fails on the %s", async (policy, kind, edit, message) => {
    const d = await details(kind === "cluster" ? TYPES.cluster : TYPES.nodePool, kind === "cluster" ? cluster(edit) : nodePool(edit), policy);
    expect(d).toHaveLength(1);
    expect(d[0]).toContain(message);
  });

  it.each<[string, (x: Record<string, any>) => void, string]>([
    ["gke-node-image-cos", (c) => (c.nodeConfig.imageType = "UBUNTU_CONTAINERD"), 'nodeConfig.imageType is "UBUNTU_CONTAINERD"'],
    ["gke-legacy-metadata-endpoints", (c) => (c.nodeConfig.metadata["disable-legacy-endpoints"] = "false"), 'is "false" for the default node pool'],
    [
      "gke-secure-boot",
      (c) => (c.nodeConfig.shieldedInstanceConfig = { enableIntegrityMonitoring: true }),
      "enableSecureBoot is not true for the default node pool",
    ],
  ])("%s checks the cluster's nodeConfig when the default pool is kept", async (policy, edit, message) => {
    expect(await details(TYPES.cluster, keptDefaultPool(edit), policy)).toEqual([expect.stringContaining(message)]);
    // The same nodeConfig on a cluster whose default pool is removed describes no node.
    expect(
      await details(
        TYPES.cluster,
        keptDefaultPool((c) => (edit(c), (c.removeDefaultNodePool = true))),
        policy,
      ),
    ).toEqual([]);
  });

  it("what passes: GKE's defaults where they are the safe value (VPC-native, COS, legacy endpoints off), the Kubernetes logging services, current versions", async () => {
    const ok = [
      cluster(
        (c) => (
          (c.loggingService = "logging.googleapis.com/kubernetes"),
          (c.monitoringService = "monitoring.googleapis.com/kubernetes"),
          delete c.loggingConfig,
          delete c.monitoringConfig
        ),
      ),
      cluster((c) => (delete c.networkingMode, delete c.ipAllocationPolicy)),
      keptDefaultPool((c) => (delete c.nodeConfig.imageType, delete c.nodeConfig.metadata)),
      cluster((c) => (c.minMasterVersion = "1.30.5-gke.1014001")),
      cluster((c) => (c.enableKubernetesAlpha = false)),
    ];
    for (const c of ok) expect((await pack.analyze(TYPES.cluster, c)).diagnostics.filter((d) => d.policyName !== "gke-separate-node-pools")).toEqual([]);
    expect(
      (
        await pack.analyze(
          TYPES.nodePool,
          nodePool((n) => (delete n.nodeConfig.imageType, delete n.nodeConfig.metadata)),
        )
      ).diagnostics,
    ).toEqual([]);
  });

  it("gke-production-multi-zone: production only; three zones in nodeLocations make a zonal cluster multi-zone", async () => {
    expect(
      await details(
        TYPES.cluster,
        cluster((c) => (c.location = "europe-west1-b"), "staging"),
        "gke-production-multi-zone",
      ),
    ).toEqual([]);
    expect(
      await details(
        TYPES.cluster,
        cluster((c) => ((c.location = "europe-west1-b"), (c.nodeLocations = ["europe-west1-b", "europe-west1-c", "europe-west1-d"]))),
        "gke-production-multi-zone",
      ),
    ).toEqual([]);
    expect(
      await details(
        TYPES.cluster,
        cluster((c) => (c.nodeLocations = ["europe-west1-b", "europe-west1-c", "europe-west1-d"])),
        "gke-production-multi-zone",
      ),
    ).toEqual([]);
    expect(
      await details(
        TYPES.cluster,
        cluster((c) => delete c.location),
        "gke-production-multi-zone",
      ),
    ).toEqual([expect.stringContaining("location is not set")]);
  });

  it("values unknown during preview are left for the update", async () => {
    const unknowns = [
      cluster((c) => (c.networkingMode = UNKNOWN)),
      cluster((c) => (c.location = UNKNOWN)),
      cluster((c) => (c.loggingConfig.enableComponents = [UNKNOWN])),
      keptDefaultPool((c) => ((c.removeDefaultNodePool = UNKNOWN), (c.nodeConfig.imageType = "UBUNTU"))),
    ];
    for (const c of unknowns) expect((await pack.analyze(TYPES.cluster, c)).diagnostics).toEqual([]);
    expect(
      (
        await pack.analyze(
          TYPES.nodePool,
          nodePool((n) => (n.nodeConfig.imageType = UNKNOWN)),
        )
      ).diagnostics,
    ).toEqual([]);
  });
});

describe("GKE stack policies: a cluster with what it depends on", () => {
  const subnet = (logged = true) =>
    resource(
      "gcp:compute/subnetwork:Subnetwork",
      { network: "vpc", ipCidrRange: "10.20.0.0/20", privateIpGoogleAccess: true, ...(logged ? { logConfig: { flowSampling: 0.5 } } : {}) },
      { name: "network" },
    );
  const binauthz = (defaultMode = "ALWAYS_DENY") =>
    resource(
      "gcp:binaryauthorization/policy:Policy",
      {
        project: "acme-prod",
        globalPolicyEvaluationMode: "ENABLE",
        defaultAdmissionRule: { evaluationMode: defaultMode, enforcementMode: "ENFORCED_BLOCK_AND_AUDIT_LOG" },
      },
      { name: "images" },
    );
  const stack = (edit: (c: Record<string, any>) => void = () => {}, logged = true, defaultMode = "ALWAYS_DENY") => {
    const s = subnet(logged);
    return [s, binauthz(defaultMode), resource(TYPES.cluster, cluster(edit), { name: "gke", propertyDependencies: { subnetwork: [s.urn] } })];
  };
  const findings = async (resources: ReturnType<typeof stack>, policy: string) => of(await pack.analyzeStack(resources), policy).map((v) => v.detail);

  it("the program's shape (intranode visibility on a logged subnet, enforcement of a deny-by-default policy) passes", async () => {
    for (const policy of ["gke-intranode-visibility", "gke-binary-authorization"]) expect(await findings(stack(), policy), policy).toEqual([]);
    // The deprecated flag still enforces; Autopilot has intranode visibility on by default.
    expect(
      await findings(
        stack((c) => (c.binaryAuthorization = { enabled: true })),
        "gke-binary-authorization",
      ),
    ).toEqual([]);
    expect(
      await findings(
        stack((c) => ((c.enableAutopilot = true), delete c.enableIntranodeVisibility)),
        "gke-intranode-visibility",
      ),
    ).toEqual([]);
  });

  it.each<[string, (c: Record<string, any>) => void, boolean, string, string]>([
    ["gke-intranode-visibility", (c) => delete c.enableIntranodeVisibility, true, "ALWAYS_DENY", "cluster agents: enableIntranodeVisibility is not set (off)"],
    ["gke-intranode-visibility", (c) => (c.enableIntranodeVisibility = false), true, "ALWAYS_DENY", "enableIntranodeVisibility is false"],
    ["gke-intranode-visibility", () => {}, false, "ALWAYS_DENY", "cluster agents has intranode visibility, but its subnetwork network keeps no flow logs"],
    ["gke-binary-authorization", (c) => delete c.binaryAuthorization, true, "ALWAYS_DENY", "cluster agents: binaryAuthorization.evaluationMode is not set"],
    [
      "gke-binary-authorization",
      (c) => (c.binaryAuthorization.evaluationMode = "DISABLED"),
      true,
      "ALWAYS_DENY",
      'binaryAuthorization.evaluationMode is "DISABLED"',
    ],
    ["gke-binary-authorization", () => {}, true, "ALWAYS_ALLOW", "Binary Authorization policy images admits every image by default"],
  ])("%s fails (%#)", async (policy, edit, logged, defaultMode, message) => {
    const d = await findings(stack(edit, logged, defaultMode), policy);
    expect(d).toHaveLength(1);
    expect(d[0]).toContain(message);
  });

  it("computed values wait for the update", async () => {
    expect(
      await findings(
        stack((c) => (c.enableIntranodeVisibility = UNKNOWN)),
        "gke-intranode-visibility",
      ),
    ).toEqual([]);
    expect(
      await findings(
        stack((c) => (c.binaryAuthorization = UNKNOWN)),
        "gke-binary-authorization",
      ),
    ).toEqual([]);
  });
});
