import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as vercel from "@pulumiverse/vercel";
import * as k8s from "@pulumi/kubernetes";
import type { GkeClusterSettings, StackConfig } from "./config/schema";
import { AgentWorkloads, HEALTH_CHECK_RANGES } from "./components/agentWorkloads";
import { ExistingCluster } from "./components/existingCluster";
import { GkeCluster } from "./components/gkeCluster";
import { ImagePolicy, repositoriesOf } from "./components/imagePolicy";
import { standardLabels } from "./components/labels";
import { Monitoring } from "./components/monitoring";
import { PrivateNetwork } from "./components/privateNetwork";
import { Release } from "./components/release";
import type { ReleaseRecord } from "./release/record";
import { ProjectApis } from "./components/projectApis";
import { VercelFrontend } from "./components/vercelFrontend";
import { WebSocketBackend } from "./components/websocketBackend";

export interface StackOutputs {
  backendUrl: pulumi.Output<string>;
  frontendUrl: string;
  clusterName: pulumi.Output<string>;
  clusterEndpoint: pulumi.Output<string>;
  kubeconfig: pulumi.Output<string | undefined>;
  revisions: { backend: string; workloads: Record<string, string> };
  /** The release record of each traffic split (`npm run status` reads it). */
  releases: pulumi.Output<Record<string, ReleaseRecord>>;
}

/** Where the stack's Kubernetes resources go: the provider, its kubeconfig, and what the outputs say about the cluster. */
interface ClusterAccess {
  provider: k8s.Provider;
  /** undefined: the deploying machine's own kubeconfig, at `context`. */
  kubeconfig: pulumi.Output<string | undefined>;
  context?: string;
  name: pulumi.Output<string>;
  endpoint: pulumi.Output<string>;
}

/**
 * The Kubernetes half of a stack: the cluster (GKE, declared by `gke`, or the
 * existing one the kubeconfig reaches) and the agents' workloads on it. The
 * engine tests run this alone against a real control plane.
 */
export function declareKubernetes(config: StackConfig, gke?: () => GkeCluster): { cluster: ClusterAccess; workloads: AgentWorkloads } {
  const cluster = clusterOf(config, gke);
  const workloads = new AgentWorkloads("agents", {
    environment: config.environment,
    workloads: config.workloads,
    gatewaySources: config.cluster.mode === "gke" ? [config.network.proxyCidr, ...HEALTH_CHECK_RANGES] : config.cluster.gatewaySourceCidrs,
    provider: cluster.provider,
  });
  return { cluster, workloads };
}

/** The stack's GKE cluster (declared by `gke`), or the existing cluster its kubeconfig reaches. */
function clusterOf(config: StackConfig, gke: (() => GkeCluster) | undefined): ClusterAccess {
  if (config.cluster.mode === "existing") {
    const context = config.cluster.context;
    const existing = new ExistingCluster("cluster", {
      ...(config.kubeconfig ? { kubeconfig: pulumi.secret(config.kubeconfig.value) } : {}),
      ...(context ? { context } : {}),
    });
    return { provider: existing.provider, kubeconfig: existing.kubeconfig, ...(context ? { context } : {}), name: existing.name, endpoint: existing.endpoint };
  }
  if (!gke) throw new Error("cluster.mode gke needs the GKE cluster's declaration");
  const c = gke();
  return { provider: c.provider, kubeconfig: c.kubeconfig, name: c.cluster.name, endpoint: pulumi.secret(c.cluster.endpoint) };
}

/** Declares every resource of one stack from its validated configuration. */
export function declareStack(config: StackConfig): StackOutputs {
  const { project, region, zone } = config.gcp;
  const labels = standardLabels(config);
  const secret = (v: { value: string } | undefined) => (v ? pulumi.secret(v.value) : undefined);
  const firebaseCredentials = pulumi.secret(config.firebaseCredentials.value);

  // Explicit providers: nothing depends on ambient gcp:/vercel: config or a developer's gcloud defaults.
  const gcpProvider = new gcp.Provider("gcp", { project, region, defaultLabels: labels });
  const vercelProvider = new vercel.Provider("vercel", {
    apiToken: pulumi.secret(config.vercelApiToken.value),
    ...(config.frontend.teamId ? { team: config.frontend.teamId } : {}),
  });
  const onGcp = { providers: { gcp: gcpProvider } };

  const apis = new ProjectApis("apis", { project }, onGcp);
  // APIs have no data flow into the resources that need them, hence explicit dependsOn.
  const afterApis = { ...onGcp, dependsOn: apis.services };

  const network = new PrivateNetwork("network", { project, region, network: config.network }, afterApis);
  const agentImages = config.workloads.services.flatMap((s) => [s.images.blue, s.images.green].filter((i): i is string => i !== undefined));
  // Enforced by the cluster and the Cloud Run service: only the stack's own repositories' images run.
  const imagePolicy = new ImagePolicy("images", { project, images: [...agentImages, config.backend.image] }, afterApis);
  const { cluster } = declareKubernetes(
    config,
    () =>
      new GkeCluster(
        "gke",
        {
          project,
          region,
          zone,
          cluster: config.cluster as GkeClusterSettings,
          network: config.network,
          vpcId: network.vpc.id,
          subnetId: network.subnet.id,
          labels,
          imageRepositories: repositoriesOf(agentImages),
        },
        // Private nodes pull images through Cloud NAT.
        { ...onGcp, dependsOn: [...apis.services, network.nat, imagePolicy.policy] },
      ),
  );
  const backend = new WebSocketBackend(
    "backend",
    {
      project,
      region,
      environment: config.environment,
      backend: config.backend,
      firebaseCredentials,
      vpcId: network.vpc.id,
      subnetId: network.subnet.id,
      labels,
    },
    { ...afterApis, dependsOn: [...apis.services, imagePolicy.policy] },
  );
  const frontend = new VercelFrontend("frontend", {
    environment: config.environment,
    frontend: config.frontend,
    backendUrl: backend.url,
    firebaseCredentials,
    provider: vercelProvider,
  });
  const release = new Release("release", {
    config,
    serviceName: backend.service.name,
    kubeconfig: cluster.kubeconfig,
    ...(cluster.context ? { kubeContext: cluster.context } : {}),
    vercelToken: pulumi.secret(config.vercelApiToken.value),
    vercelProjectId: frontend.project.id,
    ...(config.releaseWebhookSecret ? { webhookSecret: pulumi.secret(config.releaseWebhookSecret.value) } : {}),
  });
  new Monitoring(
    "monitoring",
    {
      project,
      environment: config.environment,
      monitoring: config.monitoring,
      serviceName: config.backend.name,
      maxInstances: config.backend.maxInstances,
      backendUrl: backend.url,
      slackWebhookUrl: secret(config.slackWebhookUrl),
      alertWebhookUrl: secret(config.alertWebhookUrl),
      labels,
    },
    afterApis,
  );

  return {
    backendUrl: backend.url,
    frontendUrl: frontend.url,
    clusterName: cluster.name,
    clusterEndpoint: cluster.endpoint,
    kubeconfig: cluster.kubeconfig,
    revisions: {
      backend: backend.revision,
      workloads: Object.fromEntries(config.workloads.services.map((s) => [s.name, `${s.name}-${s.activeSlot}`])),
    },
    releases: pulumi.output(release.records),
  };
}
