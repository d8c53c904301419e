import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNKNOWN } from "../../src/policy/analyzer";
import { asKind, IMAGE, podWith, restrictedPodSpec } from "../support/pods";
import { of, PackUnderTest, resource, TYPES } from "../support/policyPack";
import { scratchDir } from "../support/scratch";

let pack: PackUnderTest;
beforeAll(async () => {
  pack = await PackUnderTest.start();
}, 60_000);
afterAll(async () => pack?.stop());

const details = async (type: string, props: Record<string, unknown>, policy: string) => of(await pack.analyze(type, props), policy).map((d) => d.detail);

describe("Kubernetes workload policies", () => {
  it("k8s-resources: every request and limit is required", async () => {
    const d = await details(
      TYPES.deployment,
      asKind(
        TYPES.deployment,
        podWith((s) => (s.containers[0].resources = { requests: { cpu: "100m" } })),
      ),
      "k8s-resources",
    );
    expect(d).toEqual([
      'spec.template.spec.containers "app" has no resources.requests.memory, resources.limits.cpu, resources.limits.memory: set them (requests what it needs, limits what it may use).',
    ]);
    expect(await details(TYPES.deployment, asKind(TYPES.deployment, restrictedPodSpec()), "k8s-resources")).toEqual([]);
  });

  it("k8s-probes: long-running containers need both probes; Jobs and CronJobs do not", async () => {
    const noProbes = podWith((s) => {
      delete s.containers[0].readinessProbe;
      delete s.containers[0].livenessProbe;
    });
    expect(await details(TYPES.statefulSet, asKind(TYPES.statefulSet, noProbes), "k8s-probes")).toEqual([
      expect.stringContaining('containers "app" has no readinessProbe and no livenessProbe'),
    ]);
    expect(await details(TYPES.job, asKind(TYPES.job, noProbes), "k8s-probes")).toEqual([]);
    expect(await details(TYPES.cronJob, asKind(TYPES.cronJob, noProbes), "k8s-probes")).toEqual([]);
  });

  it("k8s-read-only-root-filesystem", async () => {
    expect(
      await details(
        TYPES.daemonSet,
        asKind(
          TYPES.daemonSet,
          podWith((s) => (s.containers[0].securityContext.readOnlyRootFilesystem = false)),
        ),
        "k8s-read-only-root-filesystem",
      ),
    ).toEqual([expect.stringContaining('containers "app" do not set securityContext.readOnlyRootFilesystem=true')]);
    expect(await details(TYPES.daemonSet, asKind(TYPES.daemonSet, restrictedPodSpec()), "k8s-read-only-root-filesystem")).toEqual([]);
  });

  it.each([
    ["nginx:latest", 'uses image "nginx:latest" (tag latest)'],
    ["nginx", 'uses image "nginx" (no tag, so latest)'],
    ["registry.local:5000/team/api", 'uses image "registry.local:5000/team/api" (no tag, so latest)'],
  ])("k8s-no-latest-tag flags %s", async (image, message) => {
    expect(
      await details(
        TYPES.pod,
        asKind(
          TYPES.pod,
          podWith((s) => (s.containers[0].image = image)),
        ),
        "k8s-no-latest-tag",
      ),
    ).toEqual([expect.stringContaining(message)]);
  });

  it("k8s-no-latest-tag accepts version tags (even with a registry port) and digests", async () => {
    for (const image of ["nginx:1.27", "registry.local:5000/team/api:2.1.0", IMAGE]) {
      expect(
        await details(
          TYPES.pod,
          asKind(
            TYPES.pod,
            podWith((s) => (s.containers[0].image = image)),
          ),
          "k8s-no-latest-tag",
        ),
      ).toEqual([]);
    }
  });

  const ns = resource(TYPES.namespace, { metadata: { name: "agents" } });
  const deploy = (replicas: number) => resource(TYPES.deployment, asKind(TYPES.deployment, restrictedPodSpec(), {}, replicas));
  const netpol = resource(TYPES.networkPolicy, {
    metadata: { name: "default-deny", namespace: "agents" },
    spec: { podSelector: {}, policyTypes: ["Ingress"] },
  });
  const pdb = (selector: Record<string, unknown>) =>
    resource(TYPES.pdb, { metadata: { name: "api", namespace: "agents" }, spec: { maxUnavailable: 1, selector } });

  it("k8s-namespace-network-policy: each namespace with workloads needs one", async () => {
    const bad = of(await pack.analyzeStack([ns, deploy(1)]), "k8s-namespace-network-policy");
    expect(bad.map((d) => d.detail)).toEqual([
      'namespace "agents" has no NetworkPolicy: declare a default-deny policy and allow only the traffic the workloads need.',
    ]);
    expect(bad[0]!.urn).toBe(ns.urn);
    expect(of(await pack.analyzeStack([ns, deploy(1), netpol]), "k8s-namespace-network-policy")).toEqual([]);
  });

  it("k8s-no-system-namespace: no workload in default or kube-*, no such Namespace declared; the stack's own namespace passes", async () => {
    const inSystem = (namespace: string | undefined) => {
      const d = asKind(TYPES.deployment, restrictedPodSpec()) as { metadata: Record<string, unknown> };
      if (namespace === undefined) delete d.metadata["namespace"];
      else d.metadata["namespace"] = namespace;
      return resource(TYPES.deployment, d, { name: `api-${namespace ?? "none"}` });
    };
    const declared = resource(TYPES.namespace, { metadata: { name: "kube-public" } }, { name: "kube-public" });
    const bad = of(await pack.analyzeStack([inSystem("kube-system"), inSystem(undefined), declared]), "k8s-no-system-namespace");
    expect(bad.map((v) => v.detail).sort()).toEqual([
      'api-kube-system runs in the namespace "kube-system", which belongs to the cluster: give the stack\'s workloads their own namespace (workloads.namespace).',
      'api-none runs in the namespace "default", which belongs to the cluster: give the stack\'s workloads their own namespace (workloads.namespace).',
      'the stack declares the namespace "kube-public", which belongs to the cluster: give the stack\'s workloads their own namespace (workloads.namespace).',
    ]);
    expect(of(await pack.analyzeStack([ns, deploy(1), netpol]), "k8s-no-system-namespace")).toEqual([]);
    // A Helm release puts its whole manifest in the namespace it names; a patch of a workload in kube-system is a workload there.
    const helm = resource("kubernetes:helm.sh/v3:Release", { chart: "ingress-nginx", namespace: "kube-system" }, { name: "ingress" });
    const patch = resource(
      "kubernetes:apps/v1:DeploymentPatch",
      { ...asKind(TYPES.deployment, restrictedPodSpec()), metadata: { name: "coredns", namespace: "kube-system" } },
      { name: "coredns-patch" },
    );
    expect(
      of(await pack.analyzeStack([ns, netpol, helm, patch]), "k8s-no-system-namespace")
        .map((v) => v.detail)
        .sort(),
    ).toEqual([
      'coredns-patch runs in the namespace "kube-system", which belongs to the cluster: give the stack\'s workloads their own namespace (workloads.namespace).',
      'ingress runs in the namespace "kube-system", which belongs to the cluster: give the stack\'s workloads their own namespace (workloads.namespace).',
    ]);
  });

  it("k8s-pod-disruption-budget: replicas > 1 (directly or via the HPA's minReplicas) need a PDB selecting the pods", async () => {
    const two = deploy(2);
    expect(of(await pack.analyzeStack([ns, netpol, two]), "k8s-pod-disruption-budget").map((d) => d.detail)).toEqual([
      expect.stringContaining("Deployment agents/api runs 2 replicas but no PodDisruptionBudget selects its pods"),
    ]);
    expect(of(await pack.analyzeStack([ns, netpol, two, pdb({ matchLabels: { app: "api" } })]), "k8s-pod-disruption-budget")).toEqual([]);
    expect(of(await pack.analyzeStack([ns, netpol, two, pdb({ matchLabels: { app: "web" } })]), "k8s-pod-disruption-budget")).toHaveLength(1);
    expect(
      of(
        await pack.analyzeStack([ns, netpol, two, pdb({ matchExpressions: [{ key: "app", operator: "In", values: ["api", "web"] }] })]),
        "k8s-pod-disruption-budget",
      ),
    ).toEqual([]);
    const hpa = resource(TYPES.hpa, {
      metadata: { name: "api", namespace: "agents" },
      spec: { scaleTargetRef: { kind: "Deployment", name: "api" }, minReplicas: 3, maxReplicas: 10 },
    });
    expect(of(await pack.analyzeStack([ns, netpol, deploy(1), hpa]), "k8s-pod-disruption-budget")[0]!.detail).toContain("runs 3 replicas");
    expect(of(await pack.analyzeStack([ns, netpol, deploy(1)]), "k8s-pod-disruption-budget")).toEqual([]);
  });
});

describe("Vercel policies", () => {
  const variable = (v: Record<string, unknown>) => ({ projectId: "prj_1", targets: ["production"], sensitive: false, ...v });

  it("vercel-sensitive-env: a secret-like variable must be sensitive", async () => {
    expect(await details(TYPES.vercelEnv, variable({ key: "FIREBASE_SERVICE_ACCOUNT", value: '{"type": "service_account"}' }), "vercel-sensitive-env")).toEqual(
      [expect.stringContaining("FIREBASE_SERVICE_ACCOUNT is not marked sensitive and its value looks like a Google service-account key")],
    );
    expect(await details(TYPES.vercelEnv, variable({ key: "STRIPE_SECRET", value: UNKNOWN }), "vercel-sensitive-env")).toEqual([
      expect.stringContaining("STRIPE_SECRET is not marked sensitive and its name looks like a secret"),
    ]);
    expect(await details(TYPES.vercelEnv, variable({ key: "STRIPE_SECRET", value: "x", sensitive: true }), "vercel-sensitive-env")).toEqual([]);
    expect(await details(TYPES.vercelEnv, variable({ key: "NEXT_PUBLIC_WS_URL", value: "wss://api.example.com" }), "vercel-sensitive-env")).toEqual([]);
    const list = {
      projectId: "prj_1",
      variables: [
        { key: "API_TOKEN", value: "abc", sensitive: false, targets: ["production"] },
        { key: "NEXT_PUBLIC_APP_ENV", value: "production", sensitive: false, targets: ["production"] },
      ],
    };
    expect(await details(TYPES.vercelEnvs, list, "vercel-sensitive-env")).toEqual([expect.stringContaining("API_TOKEN is not marked sensitive")]);
  });

  it("vercel-no-shared-secret-targets: a secret may not serve production and preview together", async () => {
    expect(
      await details(
        TYPES.vercelShared,
        { key: "API_TOKEN", value: "abc", sensitive: true, projectIds: ["prj_1"], targets: ["production", "preview"] },
        "vercel-no-shared-secret-targets",
      ),
    ).toEqual([expect.stringContaining("API_TOKEN is secret-like and targets production, preview")]);
    expect(
      await details(TYPES.vercelEnv, variable({ key: "API_TOKEN", value: "abc", sensitive: true, targets: ["preview"] }), "vercel-no-shared-secret-targets"),
    ).toEqual([]);
    expect(
      await details(
        TYPES.vercelEnv,
        variable({ key: "NEXT_PUBLIC_WS_URL", value: "wss://x", targets: ["production", "preview"] }),
        "vercel-no-shared-secret-targets",
      ),
    ).toEqual([]);
  });

  it('vercel-deployment-protection: "none" fails unless password or trusted-IP protection is set', async () => {
    expect(await details(TYPES.vercelProject, { name: "web", vercelAuthentication: { deploymentType: "none" } }, "vercel-deployment-protection")).toEqual([
      expect.stringContaining('deploymentType is "none"'),
    ]);
    expect(
      await details(
        TYPES.vercelProject,
        { name: "web", vercelAuthentication: { deploymentType: "none" }, passwordProtection: { deploymentType: "allDeployments", password: "x" } },
        "vercel-deployment-protection",
      ),
    ).toEqual([]);
    expect(
      await details(TYPES.vercelProject, { name: "web", vercelAuthentication: { deploymentType: "standardProtectionNew" } }, "vercel-deployment-protection"),
    ).toEqual([]);
  });
});

describe("release policies (TrafficSplit inputs)", () => {
  const split = (environment: string, release: Record<string, unknown>) => ({ environment, stable: "a", candidate: "b", target: { kind: "haproxy" }, release });
  const canary = {
    strategy: "canary",
    steps: [5, 10, 25, 50, 100],
    autoRollback: true,
    analysis: { stepCriteria: { "10": { errorRate: 0.01, p95LatencyMs: 500 } } },
    smokeTests: { paths: ["/health"] },
  };

  it("release-production-canary", async () => {
    expect(await details(TYPES.trafficSplit, split("production", canary), "release-production-canary")).toEqual([]);
    expect(await details(TYPES.trafficSplit, split("production", { ...canary, steps: [25, 100] }), "release-production-canary")).toEqual([
      "the first canary step sends 25% of traffic: start at 10% or less (e.g. 5).",
    ]);
    expect(await details(TYPES.trafficSplit, split("production", { ...canary, analysis: { stepCriteria: {} } }), "release-production-canary")).toEqual([
      expect.stringContaining("the canary has no analysis"),
    ]);
    expect(
      await details(
        TYPES.trafficSplit,
        split("production", { strategy: "blue-green", autoRollback: true, smokeTests: { paths: ["/health"] } }),
        "release-production-canary",
      ),
    ).toEqual([expect.stringContaining('production release strategy is "blue-green"')]);
    expect(
      await details(
        TYPES.trafficSplit,
        split("staging", { strategy: "blue-green", autoRollback: true, smokeTests: { paths: ["/health"] } }),
        "release-production-canary",
      ),
    ).toEqual([]);
  });

  it("release-blue-green-smoke-tests", async () => {
    expect(
      await details(
        TYPES.trafficSplit,
        split("staging", { strategy: "blue-green", autoRollback: true, smokeTests: { paths: [] } }),
        "release-blue-green-smoke-tests",
      ),
    ).toEqual([expect.stringContaining("blue-green release has no critical smoke test")]);
    expect(
      await details(
        TYPES.trafficSplit,
        split("staging", { strategy: "blue-green", autoRollback: true, smokeTests: { paths: [], websocketPath: "/ws" } }),
        "release-blue-green-smoke-tests",
      ),
    ).toEqual([]);
  });

  it("release-auto-rollback: on in staging and production; direct is for dev only", async () => {
    expect(
      await details(
        TYPES.trafficSplit,
        split("staging", { strategy: "blue-green", autoRollback: false, smokeTests: { paths: ["/health"] } }),
        "release-auto-rollback",
      ),
    ).toEqual([expect.stringContaining("staging release has autoRollback off")]);
    expect(await details(TYPES.trafficSplit, split("production", { strategy: "direct", smokeTests: { paths: ["/health"] } }), "release-auto-rollback")).toEqual(
      [expect.stringContaining("production uses a direct release")],
    );
    expect(await details(TYPES.trafficSplit, split("dev", { strategy: "direct", smokeTests: { paths: ["/health"] } }), "release-auto-rollback")).toEqual([]);
    // No environment declared: held to production's rules.
    expect(await details(TYPES.trafficSplit, { stable: "a", candidate: "b", release: { strategy: "direct" } }, "release-auto-rollback")).toEqual([
      expect.stringContaining("production uses a direct release"),
    ]);
  });

  it("release-watched-holds: a release that can hold names an approval source with a timeout", async () => {
    const approval = { source: "http", url: "https://approvals.example.com/releases", timeoutSeconds: 900 };
    expect(await details(TYPES.trafficSplit, split("production", canary), "release-watched-holds")).toEqual([]);
    for (const holds of [{ manualApproval: true }, { autoRollback: false }, { analysis: { ...canary.analysis, onInconclusive: "hold" } }]) {
      expect(await details(TYPES.trafficSplit, split("production", { ...canary, ...holds }), "release-watched-holds")).toEqual([
        expect.stringMatching(
          /^the release can hold \((manualApproval: true|autoRollback: false|analysis\.onInconclusive: hold)\) but names no approval source with a timeout/,
        ),
      ]);
      expect(await details(TYPES.trafficSplit, split("production", { ...canary, ...holds, approval }), "release-watched-holds")).toEqual([]);
    }
    expect(
      await details(
        TYPES.trafficSplit,
        split("production", { ...canary, manualApproval: true, approval: { source: "file", path: "a.json" } }),
        "release-watched-holds",
      ),
    ).toHaveLength(1);
  });
});

describe("gcp-standard-labels", () => {
  it("requires env, owner and managed-by where labels exist, under each type's own property", async () => {
    expect(await details(TYPES.secret, { secretId: "x", labels: { env: "dev" } }, "gcp-standard-labels")).toEqual([
      "labels lacks owner, managed-by: add them (the program's standardLabels() sets env, owner and managed-by).",
    ]);
    expect(
      await details(TYPES.nodePool, { nodeConfig: { resourceLabels: { env: "dev", owner: "x", "managed-by": "pulumi" } } }, "gcp-standard-labels"),
    ).toEqual([]);
    expect(await details(TYPES.cluster, { name: "c" }, "gcp-standard-labels")).toEqual([
      expect.stringContaining("resourceLabels lacks env, owner, managed-by"),
    ]);
    expect((await pack.analyze(TYPES.network, { name: "vpc" })).notApplicable.map((n) => n.policyName)).toContain("gcp-standard-labels");
  });

  it("takes its required keys from config", async () => {
    const r = await pack.analyze(
      TYPES.secret,
      { secretId: "x", labels: { env: "dev", owner: "x", "managed-by": "pulumi" } },
      { "gcp-standard-labels": { properties: { required: ["env", "cost-center"] } } },
    );
    expect(of(r, "gcp-standard-labels").map((d) => d.detail)).toEqual([expect.stringContaining("labels lacks cost-center")]);
  });
});

describe("security-scan-report (stack policy)", () => {
  const dir = scratchDir("scans-");
  const write = (name: string, body: unknown) => {
    const f = join(dir, name);
    writeFileSync(f, typeof body === "string" ? body : JSON.stringify(body));
    return f;
  };
  const vulns = (critical: number, high: number) => [
    ...Array(critical).fill({ VulnerabilityID: "CVE-1", Severity: "CRITICAL" }),
    ...Array(high).fill({ VulnerabilityID: "CVE-2", Severity: "HIGH" }),
    { VulnerabilityID: "CVE-3", Severity: "MEDIUM" },
  ];
  const trivy = (critical: number, high: number, artifact = IMAGE) => ({
    SchemaVersion: 2,
    ArtifactName: artifact,
    ArtifactType: "container_image",
    Results: [
      { Target: "debian", Vulnerabilities: vulns(critical, high) },
      { Target: "node-pkg", Vulnerabilities: null },
    ],
  });
  const sarif = (critical: number, high: number) => ({
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "Trivy",
            rules: [
              { id: "CVE-1", properties: { tags: ["vulnerability", "security", "CRITICAL"] } },
              { id: "CVE-2", properties: { "security-severity": "7.5" } },
            ],
          },
        },
        results: [
          ...Array(critical).fill({ ruleId: "CVE-1", ruleIndex: 0, level: "error" }),
          ...Array(high).fill({ ruleId: "CVE-2", ruleIndex: 1, level: "error" }),
        ],
        properties: { imageName: IMAGE.split("@")[0], repoDigests: [IMAGE] },
      },
    ],
  });
  const stack = (env: string) => [
    resource(TYPES.deployment, {
      ...asKind(TYPES.deployment, restrictedPodSpec()),
      metadata: { name: "api", namespace: "agents", labels: { "delivery/environment": env } },
    }),
  ];
  const gate = async (env: string, reports: string[], extra: Record<string, unknown> = {}) =>
    of(await pack.analyzeStack(stack(env), { "security-scan-report": { properties: { reports, ...extra } } }), "security-scan-report").map((d) => d.detail);

  it("passes within the thresholds (Trivy JSON and SARIF)", async () => {
    expect(await gate("production", [write("ok.json", trivy(0, 5))])).toEqual([]);
    expect(await gate("production", [write("ok.sarif", sarif(0, 4))])).toEqual([]);
  });

  it("fails above the thresholds, counting across reports, and the thresholds are configurable", async () => {
    const d = await gate("production", [write("c.json", trivy(1, 3)), write("c.sarif", sarif(0, 3))]);
    expect(d).toEqual([expect.stringMatching(/^1 critical vulnerabilities \(allowed 0\)/), expect.stringMatching(/^6 high vulnerabilities \(allowed 5\)/)]);
    expect(await gate("production", [write("c2.json", trivy(1, 3))], { maxCritical: 1 })).toEqual([]);
  });

  it("in production a missing or unreadable report is a violation; in staging a missing one is not (yet)", async () => {
    expect(await gate("production", [join(dir, "absent.json")])).toEqual([expect.stringContaining("is unusable (file not found)")]);
    expect(await gate("production", [write("broken.json", "{ not json")])).toEqual([expect.stringContaining("is unusable (not JSON")]);
    // The parser's own message would quote the file around the error: a report's text (it can hold matched secrets) stays out.
    const leaked = await gate("production", [write("secret.txt", "AKIAEXAMPLESECRETVALUE1234 is not a report")]);
    expect(leaked).toEqual([expect.stringContaining("is unusable (not JSON")]);
    expect(leaked.join("\n")).not.toContain("AKIA");
    expect(await gate("production", [write("other.json", { hello: 1 })])).toEqual([expect.stringContaining("neither a Trivy JSON report")]);
    expect(await gate("production", [])).toEqual([expect.stringContaining("no scan report is configured for production")]);
    expect(await gate("staging", [join(dir, "absent.json")])).toEqual([]);
    expect(await gate("staging", [write("broken2.json", "{")])).toEqual([expect.stringContaining("is unusable")]);
  });

  it("in production, reports that name no image (empty SARIF runs, no Trivy results or artifact) cannot pass the gate", async () => {
    const empty = [write("empty.sarif", { version: "2.1.0", runs: [] }), write("empty.json", { SchemaVersion: 2, Results: [] })];
    for (const f of empty)
      expect(await gate("production", [f])).toEqual([
        expect.stringContaining("name no scanned image, so they cannot show that any deployed image was scanned"),
      ]);
    expect(await gate("staging", empty)).toEqual([]);
  });

  it("an image the reports do not cover is a violation", async () => {
    const d = await gate("production", [write("other-image.json", trivy(0, 0, "europe-docker.pkg.dev/acme/other@sha256:" + "c".repeat(64)))]);
    expect(d).toEqual([expect.stringContaining(`image ${IMAGE} is deployed but none of the scan reports covers it`)]);
  });
});
