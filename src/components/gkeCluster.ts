import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { GkeClusterSettings, StackConfig } from "../config/schema";
import type { ImageRepository } from "./imagePolicy";
import { PODS_RANGE, SERVICES_RANGE } from "./privateNetwork";

export interface GkeClusterArgs {
  project: string;
  region: string;
  zone: string;
  cluster: GkeClusterSettings;
  network: StackConfig["network"];
  vpcId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  labels: Record<string, string>;
  /** Repositories the nodes pull the agents' images from: the pull role is granted on these alone. */
  imageRepositories: readonly ImageRepository[];
}

/** Least privilege for nodes on the project: write logs and metrics; nothing else (pulling is granted per repository). */
export const NODE_ROLES = [
  "roles/logging.logWriter",
  "roles/monitoring.metricWriter",
  "roles/monitoring.viewer",
  "roles/stackdriver.resourceMetadata.writer",
] as const;

/** A private, hardened GKE Standard cluster with a separately managed node pool. */
export class GkeCluster extends pulumi.ComponentResource {
  readonly cluster: gcp.container.Cluster;
  readonly nodePool: gcp.container.NodePool;
  readonly nodeServiceAccount: gcp.serviceaccount.Account;
  readonly kubeconfig: pulumi.Output<string>;
  readonly provider: k8s.Provider;

  constructor(name: string, args: GkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:gcp:GkeCluster", name, {}, opts);
    const child = { parent: this };
    const c = args.cluster;
    const location = c.regional ? args.region : args.zone;

    this.nodeServiceAccount = new gcp.serviceaccount.Account(
      `${name}-nodes`,
      { project: args.project, accountId: `${c.name}-nodes`.slice(0, 30), displayName: `GKE nodes of ${c.name}` },
      child,
    );
    const nodeMember = pulumi.interpolate`serviceAccount:${this.nodeServiceAccount.email}`;
    for (const role of NODE_ROLES) {
      new gcp.projects.IAMMember(`${name}-nodes-${role.split("/")[1]!.replace(/\./g, "-")}`, { project: args.project, role, member: nodeMember }, child);
    }
    // Pulling images: on the repositories the agents' images come from, not on every repository of the project.
    for (const r of args.imageRepositories) {
      new gcp.artifactregistry.RepositoryIamMember(
        `${name}-nodes-pull-${r.project}-${r.repository}`,
        { project: r.project, location: r.location, repository: r.repository, role: "roles/artifactregistry.reader", member: nodeMember },
        child,
      );
    }

    this.cluster = new gcp.container.Cluster(
      name,
      {
        project: args.project,
        name: c.name,
        location,
        network: args.vpcId,
        subnetwork: args.subnetId,
        // The default pool cannot be configured as strictly as a managed one; replace it.
        removeDefaultNodePool: true,
        initialNodeCount: 1,
        networkingMode: "VPC_NATIVE",
        ipAllocationPolicy: { clusterSecondaryRangeName: PODS_RANGE, servicesSecondaryRangeName: SERVICES_RANGE },
        // Pod-to-pod traffic on one node also passes the VPC, so the subnet's flow logs see it.
        enableIntranodeVisibility: true,
        privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: false, masterIpv4CidrBlock: args.network.masterCidr },
        masterAuthorizedNetworksConfig: { cidrBlocks: c.authorizedNetworks.map((n) => ({ cidrBlock: n.cidr, displayName: n.name })) },
        masterAuth: { clientCertificateConfig: { issueClientCertificate: false } },
        workloadIdentityConfig: { workloadPool: `${args.project}.svc.id.goog` },
        releaseChannel: { channel: c.releaseChannel },
        enableShieldedNodes: true,
        enableLegacyAbac: false,
        // Dataplane V2 enforces NetworkPolicy natively (no Calico add-on).
        datapathProvider: "ADVANCED_DATAPATH",
        gatewayApiConfig: { channel: "CHANNEL_STANDARD" },
        binaryAuthorization: { evaluationMode: "PROJECT_SINGLETON_POLICY_ENFORCE" },
        securityPostureConfig: { mode: "BASIC", vulnerabilityMode: "VULNERABILITY_BASIC" },
        loggingConfig: { enableComponents: ["SYSTEM_COMPONENTS", "WORKLOADS"] },
        monitoringConfig: { enableComponents: ["SYSTEM_COMPONENTS"], managedPrometheus: { enabled: true } },
        maintenancePolicy: { dailyMaintenanceWindow: { startTime: "03:00" } },
        resourceLabels: args.labels,
        deletionProtection: c.deletionProtection,
      },
      child,
    );

    this.nodePool = new gcp.container.NodePool(
      name,
      {
        project: args.project,
        cluster: this.cluster.name,
        location,
        initialNodeCount: c.minNodes,
        autoscaling: { minNodeCount: c.minNodes, maxNodeCount: c.maxNodes },
        management: { autoRepair: true, autoUpgrade: true },
        upgradeSettings: { maxSurge: 1, maxUnavailable: 0 },
        nodeConfig: {
          machineType: c.machineType,
          diskSizeGb: c.diskSizeGb,
          diskType: "pd-balanced",
          imageType: "COS_CONTAINERD",
          serviceAccount: this.nodeServiceAccount.email,
          oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
          workloadMetadataConfig: { mode: "GKE_METADATA" },
          shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
          metadata: { "disable-legacy-endpoints": "true" },
          resourceLabels: args.labels,
        },
      },
      child,
    );

    this.kubeconfig = pulumi.secret(
      pulumi
        .all([this.cluster.name, this.cluster.endpoint, this.cluster.masterAuth.clusterCaCertificate])
        .apply(([clusterName, endpoint, ca]) => kubeconfigFor(`${args.project}_${location}_${clusterName}`, endpoint, ca ?? "")),
    );
    // Explicit kubeconfig: without it the provider would fall back to $KUBECONFIG and could hit the wrong cluster.
    this.provider = new k8s.Provider(
      name,
      { kubeconfig: this.kubeconfig, enableServerSideApply: true, deleteUnreachable: false },
      { parent: this, dependsOn: [this.nodePool] },
    );
    this.registerOutputs({ clusterName: this.cluster.name });
  }
}

/** A kubeconfig that authenticates through gke-gcloud-auth-plugin (no static credentials). */
export function kubeconfigFor(contextName: string, endpoint: string, caCertificate: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: contextName, cluster: { server: `https://${endpoint}`, "certificate-authority-data": caCertificate } }],
    contexts: [{ name: contextName, context: { cluster: contextName, user: contextName } }],
    "current-context": contextName,
    users: [
      {
        name: contextName,
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "gke-gcloud-auth-plugin",
            installHint: "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
            provideClusterInfo: true,
          },
        },
      },
    ],
  });
}
