import { beforeAll, describe, expect, it, vi } from "vitest";
import { NODE_ROLES } from "../src/components/gkeCluster";
import { ROUTE_WEIGHT_PATHS } from "../src/components/agentWorkloads";
import { TRAFFIC_PATHS } from "../src/components/websocketBackend";
import { isSecretValue, type DeclaredResource } from "../src/plan/offlineCloud";
import { evaluateStack } from "../src/plan/evaluate";
import { readStackFile } from "../src/plan/stackFile";
import { at, DeclaredStack, editedStackFile, evaluateCommitted, evaluateFile, gkeOf } from "./support/stacks";
import { TRAFFIC_SPLIT_TOKEN } from "../src/release/provider/token";

const T = {
  cluster: "gcp:container/cluster:Cluster",
  nodePool: "gcp:container/nodePool:NodePool",
  account: "gcp:serviceaccount/account:Account",
  projectIam: "gcp:projects/iAMMember:IAMMember",
  run: "gcp:cloudrunv2/service:Service",
  runIam: "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
  secret: "gcp:secretmanager/secret:Secret",
  secretVersion: "gcp:secretmanager/secretVersion:SecretVersion",
  secretIam: "gcp:secretmanager/secretIamMember:SecretIamMember",
  redis: "gcp:redis/instance:Instance",
  subnet: "gcp:compute/subnetwork:Subnetwork",
  nat: "gcp:compute/routerNat:RouterNat",
  api: "gcp:projects/service:Service",
  vProject: "vercel:index/project:Project",
  vEnv: "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
  vDomain: "vercel:index/projectDomain:ProjectDomain",
  vRolling: "vercel:index/projectRollingRelease:ProjectRollingRelease",
  uptime: "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig",
  alert: "gcp:monitoring/alertPolicy:AlertPolicy",
  channel: "gcp:monitoring/notificationChannel:NotificationChannel",
  dashboard: "gcp:monitoring/dashboard:Dashboard",
  namespace: "kubernetes:core/v1:Namespace",
  deployment: "kubernetes:apps/v1:Deployment",
  k8sService: "kubernetes:core/v1:Service",
  hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
  netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  route: "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
  gateway: "kubernetes:gateway.networking.k8s.io/v1:Gateway",
  k8sProvider: "pulumi:providers:kubernetes",
} as const;

const stacks: Record<string, DeclaredStack> = {};
beforeAll(async () => {
  // Sequential: the mock runtime is process-wide state.
  for (const s of ["dev", "staging", "production"]) stacks[s] = await evaluateCommitted(s);
});

const reveal = (v: unknown) => (isSecretValue(v) ? (v as { value: unknown }).value : v);
const runtimeEmail = (s: DeclaredStack) => at<string>(s.one(T.run).inputs, "template.serviceAccount");
const envVar = (s: DeclaredStack, key: string) => s.ofType(T.vEnv).find((r) => r.inputs["key"] === key)!;

describe.each(["dev", "staging", "production"])("every stack (%s)", (name) => {
  const s = () => stacks[name]!;

  it("runs the GKE cluster private, hardened and least-privileged", () => {
    const c = s().one(T.cluster).inputs;
    expect(at(c, "privateClusterConfig.enablePrivateNodes")).toBe(true);
    expect(at(c, "workloadIdentityConfig.workloadPool")).toBe(`${s().config.gcp.project}.svc.id.goog`);
    expect(c["enableShieldedNodes"]).toBe(true);
    expect(c["enableLegacyAbac"]).toBe(false);
    expect(c["datapathProvider"]).toBe("ADVANCED_DATAPATH");
    expect(at(c, "masterAuth.clientCertificateConfig.issueClientCertificate")).toBe(false);
    expect(at(c, "releaseChannel.channel")).toBe(gkeOf(s().config).releaseChannel);
    expect(at<unknown[]>(c, "masterAuthorizedNetworksConfig.cidrBlocks")).toEqual(
      gkeOf(s().config).authorizedNetworks.map((n) => ({ cidrBlock: n.cidr, displayName: n.name })),
    );
    expect(c["removeDefaultNodePool"]).toBe(true);

    const pool = s().one(T.nodePool).inputs;
    const nodeSa = s().one(T.account, "gke-nodes");
    expect(at(pool, "nodeConfig.serviceAccount")).toBe(`${String(nodeSa.inputs["accountId"])}@${s().config.gcp.project}.iam.gserviceaccount.com`);
    expect(at(pool, "nodeConfig.workloadMetadataConfig.mode")).toBe("GKE_METADATA");
    expect(at(pool, "nodeConfig.shieldedInstanceConfig")).toEqual({ enableSecureBoot: true, enableIntegrityMonitoring: true });
    expect(at(pool, "management")).toEqual({ autoRepair: true, autoUpgrade: true });
    expect(at(pool, "autoscaling")).toEqual({ minNodeCount: gkeOf(s().config).minNodes, maxNodeCount: gkeOf(s().config).maxNodes });

    // The node account gets exactly the logging/metrics/pull roles, nothing broader.
    const nodeRoles = s()
      .ofType(T.projectIam)
      .filter((r) => String(r.inputs["member"]).includes("-nodes@"))
      .map((r) => r.inputs["role"]);
    expect(nodeRoles.sort()).toEqual([...NODE_ROLES].sort());
    expect(
      s()
        .ofType(T.projectIam)
        .map((r) => r.inputs["role"]),
    ).not.toContain("roles/editor");
  });

  it("puts the network in place: subnet ranges for pods/services, proxy-only subnet, NAT", () => {
    const subnet = s().one(T.subnet, "network").inputs;
    expect(subnet["secondaryIpRanges"]).toEqual([
      { rangeName: "pods", ipCidrRange: s().config.network.podsCidr },
      { rangeName: "services", ipCidrRange: s().config.network.servicesCidr },
    ]);
    expect(subnet["privateIpGoogleAccess"]).toBe(true);
    expect(s().one(T.subnet, "network-proxy").inputs["purpose"]).toBe("REGIONAL_MANAGED_PROXY");
    expect(s().one(T.nat).inputs["sourceSubnetworkIpRangesToNat"]).toBe("ALL_SUBNETWORKS_ALL_IP_RANGES");
    expect(
      s()
        .ofType(T.api)
        .map((r) => r.inputs["service"]),
    ).toEqual(expect.arrayContaining(["run.googleapis.com", "container.googleapis.com", "secretmanager.googleapis.com"]));
  });

  it("declares the Cloud Run WebSocket backend as the config says", () => {
    const b = s().config.backend;
    const run = s().one(T.run).inputs;
    expect(run["name"]).toBe(b.name);
    expect(run["ingress"]).toBe(b.ingress);
    expect(at(run, "template.revision")).toBe(`${b.name}-v${b.version.replace(/[^0-9a-z]+/gi, "-").toLowerCase()}`);
    expect(at(run, "template.timeout")).toBe("3600s");
    expect(at(run, "template.sessionAffinity")).toBe(true);
    expect(at(run, "template.maxInstanceRequestConcurrency")).toBe(b.concurrency);
    expect(at(run, "template.scaling")).toEqual({
      minInstanceCount: b.minInstances,
      maxInstanceCount: b.maxInstances,
      cpuUtilization: b.cpuTargetPercent / 100,
    });
    const container = at<Record<string, unknown>>(run, "template.containers.0");
    expect(container["image"]).toBe(b.image);
    expect(at(container, "resources.limits")).toEqual({ cpu: b.resources.cpu, memory: b.resources.memory });
    expect(at(container, "ports.name")).toBe("http1"); // not h2c: WebSocket upgrades need HTTP/1.1
    expect(at(container, "startupProbe.httpGet.path")).toBe("/health");
    expect(at(container, "livenessProbe.httpGet.path")).toBe("/health");
    expect(at(run, "template.vpcAccess.egress")).toBe("PRIVATE_RANGES_ONLY");
    expect(runtimeEmail(s())).toBe(`${b.name}-run@${s().config.gcp.project}.iam.gserviceaccount.com`);
  });

  it("feeds secrets to Cloud Run only from Secret Manager, pinned to a version", () => {
    const envs = at<Record<string, unknown>[]>(s().one(T.run).inputs, "template.containers.0.envs");
    const secretEnvs = envs.filter((e) => /AUTH|CREDENTIALS|TOKEN|SECRET|KEY|PASSWORD/.test(String(e["name"])));
    expect(secretEnvs.map((e) => e["name"]).sort()).toEqual(["FIREBASE_CREDENTIALS", "REDIS_AUTH"]);
    for (const e of secretEnvs) {
      expect(e["value"]).toBeUndefined();
      expect(at(e, "valueSource.secretKeyRef.version")).toBe("1");
    }
    expect(
      at(
        secretEnvs.find((e) => e["name"] === "REDIS_AUTH"),
        "valueSource.secretKeyRef.secret",
      ),
    ).toBe(`${s().config.backend.name}-redis-auth`);
  });

  it("grants secretAccessor only to the runtime service account, once per secret", () => {
    const secrets = s().ofType(T.secret);
    const grants = s().ofType(T.secretIam);
    expect(grants).toHaveLength(secrets.length);
    for (const g of grants) {
      expect(g.inputs["role"]).toBe("roles/secretmanager.secretAccessor");
      expect(g.inputs["member"]).toBe(`serviceAccount:${runtimeEmail(s())}`);
    }
    expect(grants.map((g) => g.inputs["secretId"]).sort()).toEqual(secrets.map((x) => x.inputs["secretId"]).sort());
    // Secret values are Pulumi secrets in state.
    for (const v of s().ofType(T.secretVersion)) expect(isSecretValue(v.inputs["secretData"])).toBe(true);
  });

  it("never lets Pulumi fight the release engine over traffic", () => {
    const run = s().one(T.run);
    expect(run.ignoreChanges).toEqual(TRAFFIC_PATHS);
    expect(run.inputs["traffics"]).toEqual([{ type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: at(run.inputs, "template.revision"), percent: 100 }]);
    for (const route of s().ofType(T.route)) expect(route.ignoreChanges).toEqual(ROUTE_WEIGHT_PATHS);
  });

  it("wires the Vercel frontend to the Cloud Run URL and keeps secrets sensitive", () => {
    const backendUrl = s().output<string>("backendUrl");
    expect(backendUrl).toBe(`https://${new URL(backendUrl).host}`);
    const ws = envVar(s(), "NEXT_PUBLIC_WS_URL").inputs;
    // The provider marks every env var value secret in state, so unwrap before comparing.
    expect(reveal(ws["value"])).toBe(backendUrl.replace("https://", "wss://"));
    expect(ws["sensitive"]).toBe(false);
    const firebase = envVar(s(), "FIREBASE_SERVICE_ACCOUNT").inputs;
    expect(firebase["sensitive"]).toBe(true);
    expect(isSecretValue(firebase["value"])).toBe(true);
    expect(firebase["targets"]).toEqual(["production"]);
    expect(s().one(T.vProject).inputs["framework"]).toBe("nextjs");
    expect(s().one(T.vDomain).inputs["domain"]).toBe(s().config.frontend.domain);
    expect(s().output("frontendUrl")).toBe(`https://${s().config.frontend.domain}`);
  });

  it("hardens every agent Deployment (restricted pod security) with probes and sized resources", () => {
    const w = s().config.workloads;
    const deployments = s().ofType(T.deployment);
    expect(deployments.length).toBeGreaterThan(0);
    for (const d of deployments) {
      const pod = at<Record<string, unknown>>(d.inputs, "spec.template.spec");
      expect(at(pod, "securityContext.runAsNonRoot")).toBe(true);
      expect(at(pod, "securityContext.seccompProfile.type")).toBe("RuntimeDefault");
      expect(pod["automountServiceAccountToken"]).toBe(false);
      const c = at<Record<string, unknown>>(pod, "containers.0");
      expect(at(c, "securityContext")).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
      });
      expect(at(c, "livenessProbe.httpGet.path")).toBe("/health");
      expect(at(c, "readinessProbe.httpGet.path")).toBe("/ready");
      expect(at(c, "resources")).toEqual({ requests: w.resources, limits: w.resources });
      expect(at(d.inputs, "spec.replicas")).toBe(w.replicas);
      expect(d.ignoreChanges).toEqual(["spec.replicas"]);
    }
    for (const h of s().ofType(T.hpa)) {
      expect(at(h.inputs, "spec.minReplicas")).toBe(w.replicas);
      expect(at(h.inputs, "spec.maxReplicas")).toBe(w.maxReplicas);
      expect(at(h.inputs, "spec.metrics.0.resource.target.averageUtilization")).toBe(70);
    }
    expect(s().ofType(T.hpa)).toHaveLength(deployments.length);
    // A PodDisruptionBudget exactly where replicas > 1.
    expect(s().ofType(T.pdb)).toHaveLength(w.replicas > 1 ? deployments.length : 0);
    expect(at(s().one(T.namespace).inputs, "metadata.labels")).toMatchObject({ "pod-security.kubernetes.io/enforce": "restricted" });
  });

  it("denies all pod traffic by default and allows only declared paths", () => {
    const pols = Object.fromEntries(
      s()
        .ofType(T.netpol)
        .map((p) => [at<string>(p.inputs, "metadata.name"), p.inputs]),
    );
    expect(at(pols["default-deny"], "spec")).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    expect(pols["allow-dns"]).toBeDefined();
    // orchestrator talks to memory: memory's ingress admits exactly orchestrator pods.
    expect(at(pols["memory-ingress"], "spec.ingress.0.from")).toEqual([{ podSelector: { matchLabels: { "app.kubernetes.io/name": "orchestrator" } } }]);
    expect(at(pols["orchestrator-egress"], "spec.egress.0.ports")).toEqual([{ protocol: "TCP", port: 8081 }]);
    // The exposed orchestrator admits the Gateway's proxy-only subnet.
    expect(at<unknown[]>(pols["orchestrator-ingress"], "spec.ingress.0.from")).toContainEqual({ ipBlock: { cidr: s().config.network.proxyCidr } });
  });

  it("declares the Gateway route with one weighted backend per slot", () => {
    const route = s().one(T.route).inputs;
    const svc = s().config.workloads.services.find((x) => x.expose)!;
    expect(at(route, "spec.rules.0.backendRefs")).toEqual([
      { name: `${svc.name}-blue`, port: svc.port, weight: svc.activeSlot === "blue" ? 100 : 0 },
      { name: `${svc.name}-green`, port: svc.port, weight: svc.activeSlot === "green" ? 100 : 0 },
    ]);
    expect(at(route, "spec.parentRefs")).toEqual([{ name: at(s().one(T.gateway).inputs, "metadata.name") }]);
    // Each slot on its own path (longest prefix wins over rule 0), rewritten to the service's own prefix.
    expect(at<unknown[]>(route, "spec.rules").slice(1)).toEqual(
      ["blue", "green"].map((slot) => ({
        matches: [{ path: { type: "PathPrefix", value: `/${svc.name}/slots/${slot}` } }],
        filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: `/${svc.name}` } } }],
        backendRefs: [{ name: `${svc.name}-${slot}`, port: svc.port }],
      })),
    );
    // Both slot Services exist even if a slot is empty, so the backendRefs always resolve.
    const services = s()
      .ofType(T.k8sService)
      .map((x) => at<string>(x.inputs, "metadata.name"));
    expect(services).toEqual(expect.arrayContaining([`${svc.name}-blue`, `${svc.name}-green`]));
  });

  it("deploys every Kubernetes object through the cluster's own provider", () => {
    const provider = s().one(T.k8sProvider);
    expect(provider.dependsOn).toContain(s().one(T.nodePool).urn);
    for (const r of s().resources.filter((x) => x.type.startsWith("kubernetes:"))) {
      expect(r.provider?.startsWith(`${provider.urn}::`), `${r.type} ${r.name}`).toBe(true);
    }
  });

  it("monitors /health and alerts on error rate, p95 latency and saturation", () => {
    const m = s().config.monitoring;
    const svc = s().config.backend.name;
    const uptime = s().one(T.uptime).inputs;
    expect(at(uptime, "httpCheck.path")).toBe("/health");
    expect(at(uptime, "monitoredResource.labels.host")).toBe(new URL(s().output<string>("backendUrl")).host);
    const queries = s()
      .ofType(T.alert)
      .map((a) => at<string | undefined>(a.inputs, "conditions.0.conditionPrometheusQueryLanguage")?.valueOf())
      .filter(Boolean)
      .map((q) => (q as unknown as { query: string }).query);
    expect(queries.find((q) => q.includes('response_code_class="5xx"'))).toMatch(new RegExp(`service_name="${svc}".*> ${m.errorRateThreshold}$`));
    expect(queries.find((q) => q.includes("histogram_quantile(0.95"))).toMatch(new RegExp(`> ${m.p95LatencyMs}$`));
    expect(queries.find((q) => q.includes("container_instance_count"))).toContain(`/ ${s().config.backend.maxInstances} > ${m.saturationThreshold}`);
    const channelNames = s()
      .ofType(T.channel)
      .map((c) => c.name);
    expect(channelNames.filter((n) => n.includes("email"))).toHaveLength(m.emails.length);
    for (const a of s().ofType(T.alert)) expect(at<unknown[]>(a.inputs, "notificationChannels")).toHaveLength(channelNames.length);
  });

  it("labels every labelable GCP resource with env, owner and managed-by", () => {
    const expected = { env: s().config.environment, owner: s().config.owner, "managed-by": "pulumi" };
    const labelled: [string, string][] = [
      [T.cluster, "resourceLabels"],
      [T.nodePool, "nodeConfig.resourceLabels"],
      [T.run, "labels"],
      [T.redis, "labels"],
      [T.secret, "labels"],
      [T.alert, "userLabels"],
      [T.uptime, "userLabels"],
      [T.channel, "userLabels"],
    ];
    for (const [type, path] of labelled) for (const r of s().ofType(type)) expect(at(r.inputs, path), `${type} ${r.name}`).toMatchObject(expected);
  });

  it("keeps cluster access and endpoints secret in the outputs", () => {
    expect(s().outputs["kubeconfig"]?.secret).toBe(true);
    expect(s().outputs["clusterEndpoint"]?.secret).toBe(true);
    expect(s().outputs["backendUrl"]?.secret).toBe(false);
    expect(s().output("clusterName")).toBe(gkeOf(s().config).name);
    const kubeconfig = JSON.parse(s().output<string>("kubeconfig")) as { users: { user: { exec: { command: string } } }[] };
    expect(kubeconfig.users[0]!.user.exec.command).toBe("gke-gcloud-auth-plugin");
    expect(s().output("revisions")).toMatchObject({ backend: at(s().one(T.run).inputs, "template.revision") });
  });
});

describe("environments differ where the requirements say", () => {
  const run = (s: string) => stacks[s]!.one(T.run).inputs;

  it("scales Cloud Run 0-2 in dev, 1-5 in staging, 2-20 in production", () => {
    expect(at(run("dev"), "template.scaling")).toMatchObject({ minInstanceCount: 0, maxInstanceCount: 2 });
    expect(at(run("staging"), "template.scaling")).toMatchObject({ minInstanceCount: 1, maxInstanceCount: 5 });
    expect(at(run("production"), "template.scaling")).toMatchObject({ minInstanceCount: 2, maxInstanceCount: 20, cpuUtilization: 0.7 });
  });

  it("runs a zonal cluster in dev and a regional one in production", () => {
    expect(stacks["dev"]!.one(T.cluster).inputs["location"]).toBe("europe-west1-b");
    expect(stacks["production"]!.one(T.cluster).inputs["location"]).toBe("europe-west1");
    expect(stacks["dev"]!.one(T.cluster).inputs["deletionProtection"]).toBe(false);
    expect(stacks["production"]!.one(T.cluster).inputs["deletionProtection"]).toBe(true);
  });

  it("sizes agent pods 500m/1Gi, 1000m/2Gi and 2000m/4Gi", () => {
    const limits = (s: string) => at(stacks[s]!.ofType(T.deployment)[0]!.inputs, "spec.template.spec.containers.0.resources.limits");
    expect(limits("dev")).toEqual({ cpu: "500m", memory: "1Gi" });
    expect(limits("staging")).toEqual({ cpu: "1000m", memory: "2Gi" });
    expect(limits("production")).toEqual({ cpu: "2000m", memory: "4Gi" });
  });

  it("monitors minimally in dev, with a dashboard from staging on, and every channel in production", () => {
    expect(stacks["dev"]!.ofType(T.dashboard)).toHaveLength(0);
    expect(at(stacks["dev"]!.one(T.uptime).inputs, "period")).toBe("300s");
    expect(stacks["staging"]!.ofType(T.dashboard)).toHaveLength(1);
    const prodChannels = stacks["production"]!.ofType(T.channel)
      .map((c) => c.name)
      .sort();
    expect(prodChannels).toEqual(["monitoring-email-0", "monitoring-email-1", "monitoring-slack", "monitoring-webhook"]);
    const dashboard = JSON.parse(String(stacks["production"]!.one(T.dashboard).inputs["dashboardJson"])) as {
      mosaicLayout: { tiles: { widget: { xyChart: { dataSets: { prometheusQuery: string }[] } } }[] };
    };
    for (const tile of dashboard.mosaicLayout.tiles) expect(tile.widget.xyChart.dataSets[0]!.prometheusQuery).toContain("revision_name");
  });

  it("configures Vercel's rolling release in production only, ending at 100%", () => {
    expect(stacks["dev"]!.ofType(T.vRolling)).toHaveLength(0);
    expect(stacks["staging"]!.ofType(T.vRolling)).toHaveLength(0);
    const stages = stacks["production"]!.one(T.vRolling).inputs["stages"] as { targetPercentage: number }[];
    expect(stages.at(-1)!.targetPercentage).toBe(100);
    expect(stacks["production"]!.one(T.vProject).inputs["name"]).toBe("acme-app");
    expect(stacks["dev"]!.one(T.vProject).inputs["name"]).toBe("acme-app-dev");
  });

  it("keeps a ready green slot in staging for blue-green", () => {
    const names = stacks["staging"]!.ofType(T.deployment).map((d) => at<string>(d.inputs, "metadata.name"));
    expect(names).toEqual(expect.arrayContaining(["orchestrator-blue", "orchestrator-green"]));
    expect(stacks["dev"]!.ofType(T.deployment).map((d) => at<string>(d.inputs, "metadata.name"))).not.toContain("orchestrator-green");
  });
});

describe("images, pulls and egress are scoped", () => {
  const prod = () => stacks["production"]!;

  it("Binary Authorization is declared, not just claimed: the project's policy admits only the stack's own repositories, and Cloud Run enforces it too", () => {
    const policy = prod().one("gcp:binaryauthorization/policy:Policy").inputs;
    expect(policy["defaultAdmissionRule"]).toEqual({ evaluationMode: "ALWAYS_DENY", enforcementMode: "ENFORCED_BLOCK_AND_AUDIT_LOG" });
    expect(policy["admissionWhitelistPatterns"]).toEqual([
      { namePattern: "europe-docker.pkg.dev/acme-artifacts/agents/**" },
      { namePattern: "europe-docker.pkg.dev/acme-artifacts/backend/**" },
    ]);
    expect(at(prod().one(T.cluster).inputs, "binaryAuthorization.evaluationMode")).toBe("PROJECT_SINGLETON_POLICY_ENFORCE");
    expect(prod().one(T.run).inputs["binaryAuthorization"]).toEqual({ useDefault: true });
    expect(
      prod()
        .ofType(T.api)
        .map((r) => r.inputs["service"]),
    ).toContain("binaryauthorization.googleapis.com");
  });

  it("the nodes may pull from the agents' repository alone, not from every repository of the project", () => {
    const pulls = prod()
      .ofType("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
      .map((r) => [r.inputs["project"], r.inputs["location"], r.inputs["repository"], r.inputs["role"]]);
    expect(pulls).toEqual([["acme-artifacts", "europe", "agents", "roles/artifactregistry.reader"]]);
    expect(
      prod()
        .ofType(T.projectIam)
        .map((r) => r.inputs["role"]),
    ).not.toContain("roles/artifactregistry.reader");
  });

  it("the backend gets Memorystore's server CA (from Secret Manager) to verify the TLS Redis requires", () => {
    const envs = at<{ name: string; valueSource?: { secretKeyRef: { secret: string } } }[]>(prod().one(T.run).inputs, "template.containers.0.envs");
    expect(envs.find((e) => e.name === "REDIS_CA_CERT")?.valueSource?.secretKeyRef.secret).toMatch(/ws-backend-redis-ca$/);
    expect(
      prod()
        .ofType(T.secret)
        .map((r) => r.inputs["secretId"]),
    ).toContain("ws-backend-redis-ca");
  });

  it('agents reach only the destinations the config lists outside the cluster: no "any host on 443"', () => {
    const egress = prod()
      .ofType(T.netpol)
      .flatMap((p) => at<{ to?: { ipBlock?: { cidr: string } }[] }[] | undefined>(p.inputs, "spec.egress") ?? []);
    const cidrs = egress.flatMap((e) => (e.to ?? []).map((t) => t.ipBlock?.cidr)).filter((c) => c !== undefined);
    expect(cidrs).not.toContain("0.0.0.0/0");
    expect(cidrs.sort()).toEqual(["169.254.169.252/32", "169.254.169.254/32", "199.36.153.8/30"]);
  });
});

describe("config changes reach the declared resources", () => {
  it("a private backend has no allUsers invoker, only the configured members", async () => {
    const file = editedStackFile("staging", (c) => {
      const backend = c["progressive-delivery:backend"] as Record<string, unknown>;
      backend["public"] = false;
      backend["invokers"] = ["group:qa@example.com"];
    });
    const s = await evaluateFile("staging", file);
    expect(s.ofType(T.runIam).map((r: DeclaredResource) => r.inputs["member"])).toEqual(["group:qa@example.com"]);
  });

  it("production's backend is public (browsers connect to it); dev and staging are private by default", () => {
    expect(stacks["production"]!.ofType(T.runIam).map((r) => r.inputs["member"])).toEqual(["allUsers"]);
    expect(stacks["staging"]!.ofType(T.runIam).map((r) => r.inputs["member"])).toEqual([]);
    expect(stacks["dev"]!.ofType(T.runIam).map((r) => r.inputs["member"])).toEqual([]);
  });
});

describe("the release engine is wired per environment", () => {
  const SPLIT = TRAFFIC_SPLIT_TOKEN;

  it("production: canary on the Cloud Run service, stable → candidate revisions, Managed Prometheus", () => {
    const s = stacks["production"]!;
    const split = s.one(SPLIT).inputs;
    expect(at(split, "target")).toEqual({
      kind: "cloud-run",
      project: "acme-delivery-prod",
      region: "europe-west1",
      service: "ws-backend",
      candidateTag: "candidate",
    });
    expect(split["stable"]).toBe("ws-backend-v1-7-3");
    expect(split["candidate"]).toBe(at(s.one(T.run).inputs, "template.revision"));
    expect(at(split, "release.strategy")).toBe("canary");
    expect(at(split, "release.steps")).toEqual([5, 10, 25, 50, 100]);
    expect(at(split, "metrics")).toEqual({
      url: "https://monitoring.googleapis.com/v1/projects/acme-delivery-prod/location/global/prometheus",
      preset: "cloud-run",
      scope: "ws-backend",
      auth: "google",
    });
    expect(typeof split["__provider"]).toBe("string");
    // Ordered after the service's new revision by data flow (the service name).
    expect(s.one(SPLIT).dependsOn).toContain(s.one(T.run).urn);
  });

  it("staging: blue-green on the orchestrator's HTTPRoute, through the cluster's kubeconfig", () => {
    const s = stacks["staging"]!;
    const split = s.one(SPLIT).inputs;
    const target = at<Record<string, unknown>>(split, "target");
    expect(isSecretValue(target) || isSecretValue(target["kubeconfig"])).toBe(true);
    const t = reveal(target) as Record<string, unknown>;
    expect({ ...t, kubeconfig: undefined }).toEqual({
      kind: "http-route",
      namespace: "agents-staging",
      name: "orchestrator",
      ruleIndex: 0,
      stableBackend: "orchestrator-blue",
      candidateBackend: "orchestrator-green",
      kubeconfig: undefined,
      // The smoke gate (mandatory for blue-green) and health checks reach each slot at its own path.
      candidateUrl: "http://agents.staging.internal.example.com/orchestrator/slots/green",
      stableUrl: "http://agents.staging.internal.example.com/orchestrator/slots/blue",
    });
    expect(at(split, "release.strategy")).toBe("blue-green");
    expect(split["candidate"]).toBe("orchestrator-green");
    // The candidate slot's image digest keys the release: a new image in the idle slot is a new release.
    const green = s.config.workloads.services.find((x) => x.name === "orchestrator")!.images.green!;
    expect(split["retryToken"]).toBe(green.split("@")[1]);
    expect(split["retryToken"]).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("dev: direct release on Cloud Run", () => {
    const split = stacks["dev"]!.one(SPLIT).inputs;
    expect(at(split, "release.strategy")).toBe("direct");
    expect(at(split, "target.kind")).toBe("cloud-run");
  });

  it("releaseImmediately (set by npm run rollback -- --immediate) makes the split switch at once; unset, the input is absent", async () => {
    expect(stacks["production"]!.one(SPLIT).inputs["immediate"]).toBeUndefined();
    const file = editedStackFile("production", (c) => void (c["progressive-delivery:releaseImmediately"] = true));
    const s = await evaluateFile("production", file);
    expect(s.one(SPLIT).inputs["immediate"]).toBe(true);
    expect(at(s.one(SPLIT).inputs, "release.strategy")).toBe("canary");
    // The plan says so, as a warning, instead of forecasting a canary that will not run.
    expect(s.messages.filter((m) => /^release /.test(m.text)).map((m) => [m.severity, m.text.replace(/: .*?: /, ": …: ").slice(0, 40)])).toEqual([
      ["warning", "release ws-backend: …: IMMEDIATE (releas"],
    ]);
  });

  it("no split when there is nothing to shift (no stable version yet)", async () => {
    const file = editedStackFile("production", (c) => void delete (c["progressive-delivery:backend"] as Record<string, unknown>)["stableVersion"]);
    const s = await evaluateFile("production", file);
    expect(s.ofType(SPLIT)).toHaveLength(0);
  });
});

describe("cluster.mode existing: the Kubernetes half on a cluster the team already runs", () => {
  const KUBECONFIG =
    "apiVersion: v1\nkind: Config\ncurrent-context: platform\ncontexts: [{ name: platform, context: { cluster: c1, user: u1 } }]\nclusters: [{ name: c1, cluster: { server: 'https://k8s.example.internal:6443' } }]\nusers: [{ name: u1, user: { token: SENTINEL_KUBE_TOKEN } }]\n";
  let s: DeclaredStack;
  beforeAll(async () => {
    const file = editedStackFile("staging", (c) => {
      c["progressive-delivery:cluster"] = { mode: "existing", context: "platform", gatewaySourceCidrs: ["10.0.0.0/24"] };
      c["progressive-delivery:workloads"] = { ...(c["progressive-delivery:workloads"] as object), gatewayClassName: "istio" };
    });
    // The kubeconfig as `pulumi config set --secret` holds it (a real value, as the engine would decrypt it).
    vi.resetModules();
    const source = readStackFile(file, "staging");
    const result = await evaluateStack(
      { ...source, values: { ...source.values, kubeconfig: KUBECONFIG }, secretKeys: new Set([...source.secretKeys, "kubeconfig"]) },
      () => import("../src/index"),
    );
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    s = new DeclaredStack(result.config, result.resources, result.outputs, result.messages);
  });

  it("declares no GKE cluster, node pool or node account; every Kubernetes object goes through one provider pinned to the kubeconfig and context", () => {
    expect(s.ofType(T.cluster)).toEqual([]);
    expect(s.ofType(T.nodePool)).toEqual([]);
    const provider = s.one(T.k8sProvider);
    expect(isSecretValue(provider.inputs["kubeconfig"])).toBe(true);
    expect(reveal(provider.inputs["kubeconfig"])).toBe(KUBECONFIG);
    expect(provider.inputs["context"]).toBe("platform");
    const k8sObjects = s.resources.filter((x) => x.type.startsWith("kubernetes:"));
    expect(k8sObjects.length).toBeGreaterThan(20);
    for (const r of k8sObjects) expect(r.provider?.startsWith(`${provider.urn}::`), `${r.type} ${r.name}`).toBe(true);
  });

  it("the Gateway uses the configured class, exposed services admit only its source ranges, the release still runs on the HTTPRoutes", () => {
    expect(at(s.one(T.gateway).inputs, "spec.gatewayClassName")).toBe("istio");
    const ingress = s.ofType(T.netpol).find((p) => at<string>(p.inputs, "metadata.name") === "orchestrator-ingress")!;
    expect(at<unknown[]>(ingress.inputs, "spec.ingress.0.from")).toContainEqual({ ipBlock: { cidr: "10.0.0.0/24" } });
    expect(JSON.stringify(ingress.inputs)).not.toContain("35.191.0.0/16");
    const split = s.one(TRAFFIC_SPLIT_TOKEN).inputs;
    expect((reveal(at(split, "target")) as { kind: string; kubeconfig: string }).kubeconfig).toBe(KUBECONFIG);
  });

  it("with a context alone (no kubeconfig secret) the provider and the release use the deploying machine's own kubeconfig at that context", async () => {
    const file = editedStackFile("staging", (c) => {
      c["progressive-delivery:cluster"] = { mode: "existing", context: "ci-cluster", gatewaySourceCidrs: ["10.0.0.0/24"] };
      c["progressive-delivery:workloads"] = { ...(c["progressive-delivery:workloads"] as object), gatewayClassName: "istio" };
    });
    const ctx = await evaluateFile("staging", file);
    const provider = ctx.one(T.k8sProvider).inputs;
    expect(provider["kubeconfig"]).toBeUndefined();
    expect(provider["context"]).toBe("ci-cluster");
    const target = reveal(at(ctx.one(TRAFFIC_SPLIT_TOKEN).inputs, "target")) as Record<string, unknown>;
    expect([target["kubeconfig"], target["context"]]).toEqual([undefined, "ci-cluster"]);
    expect(ctx.outputs["clusterName"]?.value).toBe("ci-cluster");
  });

  it("outputs name the context and keep the server secret; the kubeconfig's token is in no plain output", () => {
    expect(s.outputs["clusterName"]?.value).toBe("platform");
    expect(s.outputs["clusterEndpoint"]).toMatchObject({ secret: true, value: "https://k8s.example.internal:6443" });
    for (const [name, o] of Object.entries(s.outputs)) if (!o.secret) expect(JSON.stringify(o.value), name).not.toContain("SENTINEL_KUBE_TOKEN");
  });
});
