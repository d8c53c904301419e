import { isDefaultComputeAccount } from "./lib/gcp";
import { gkePolicy, onNodeConfig } from "./lib/gke";
import { isInternetWide } from "../src/config/addressRanges";
import { absentOr, asArray, known, read } from "./lib/policy";

export const gkePrivateNodes = gkePolicy(
  { name: "gke-private-nodes", description: "GKE nodes have no public IP addresses (privateClusterConfig.enablePrivateNodes).", severity: "high" },
  {
    cluster: (c, _a, report) => {
      const v = read(() => c.privateClusterConfig?.enablePrivateNodes);
      if (absentOr(v, (value) => !value))
        report("privateClusterConfig.enablePrivateNodes is not true: nodes get public IPs. Set it to true (with Cloud NAT for egress).");
    },
    // A node pool can turn private nodes off for itself (networkConfig), whatever the cluster says.
    nodePool: (np, _a, report) => {
      if (known(() => np.networkConfig?.enablePrivateNodes) === false)
        report("networkConfig.enablePrivateNodes is false: this pool's nodes get public IPs. Remove it (the pool follows the cluster's private nodes).");
    },
  },
);

/** Pods see the GKE metadata server, not the node's credentials: in every node pool, and in the default pool while it is kept. */
const gkeMetadataServer = onNodeConfig((nodeConfig, pool, report) => {
  const mode = read(() => nodeConfig()?.workloadMetadataConfig?.mode);
  // The default pool, created with the cluster, takes GKE_METADATA from the cluster's workload pool when unset; only an explicit other mode opts out.
  const unsafe = pool === "default" ? mode.kind === "value" && mode.value !== "GKE_METADATA" : absentOr(mode, (value) => value !== "GKE_METADATA");
  if (unsafe)
    report(
      `nodeConfig.workloadMetadataConfig.mode is ${mode.kind === "value" ? `"${mode.value}"` : "not set"}${pool === "default" ? " for the default node pool" : ""}: set it to "GKE_METADATA" so pods use Workload Identity, not the node's service account.`,
    );
});

export const gkeWorkloadIdentity = gkePolicy(
  {
    name: "gke-workload-identity",
    description: "Workload Identity is on: the cluster has a workload pool and node pools serve the GKE metadata server (no node credentials for pods).",
    severity: "high",
  },
  {
    cluster: (c, a, report) => {
      if (read(() => c.workloadIdentityConfig?.workloadPool).kind === "absent")
        report('workloadIdentityConfig.workloadPool is not set: set it to "<project>.svc.id.goog".');
      return gkeMetadataServer.cluster(c, a, report);
    },
    nodePool: gkeMetadataServer.nodePool,
  },
);

const integrityMonitoring = onNodeConfig((nodeConfig, pool, report) => {
  if (known(() => nodeConfig()?.shieldedInstanceConfig?.enableIntegrityMonitoring) === false)
    report(
      `nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring is false${pool === "default" ? " for the default node pool" : ""}: keep integrity monitoring on.`,
    );
});

export const gkeShieldedNodes = gkePolicy(
  { name: "gke-shielded-nodes", description: "Shielded GKE nodes (secure boot, integrity monitoring) stay on.", severity: "medium" },
  {
    cluster: (c, a, report) => {
      if (known(() => c.enableShieldedNodes) === false) report("enableShieldedNodes is false: remove it or set it to true.");
      return integrityMonitoring.cluster(c, a, report);
    },
    nodePool: integrityMonitoring.nodePool,
  },
);

export const gkeReleaseChannel = gkePolicy(
  {
    name: "gke-release-channel",
    description: "The cluster is enrolled in a release channel (RAPID, REGULAR, STABLE or EXTENDED), so control plane and nodes get security patches.",
    severity: "medium",
  },
  {
    cluster: (c, _a, report) => {
      const ch = read(() => c.releaseChannel?.channel);
      if (absentOr(ch, (value) => !["RAPID", "REGULAR", "STABLE", "EXTENDED"].includes(value)))
        report(`releaseChannel.channel is ${ch.kind === "value" ? `"${ch.value}"` : "not set"}: set it to REGULAR (or STABLE).`);
    },
  },
);

export const gkeNetworkPolicy = gkePolicy(
  {
    name: "gke-network-policy",
    description: "NetworkPolicy is enforced: Dataplane V2 (datapathProvider ADVANCED_DATAPATH) or the Calico networkPolicy add-on.",
    severity: "high",
  },
  {
    cluster: (c, _a, report) => {
      const dp = read(() => c.datapathProvider);
      const np = read(() => c.networkPolicy?.enabled);
      if (dp.kind === "unknown" || np.kind === "unknown") return;
      const enforced = (dp.kind === "value" && dp.value === "ADVANCED_DATAPATH") || (np.kind === "value" && np.value);
      if (!enforced)
        report('NetworkPolicy objects would not be enforced: set datapathProvider "ADVANCED_DATAPATH" (Dataplane V2) or networkPolicy.enabled true.');
    },
  },
);

export const gkeLegacyAbacOff = gkePolicy(
  { name: "gke-legacy-abac-off", description: "Legacy ABAC is disabled; RBAC alone authorises API requests.", severity: "high" },
  {
    cluster: (c, _a, report) => {
      if (known(() => c.enableLegacyAbac) === true) report("enableLegacyAbac is true: remove it (RBAC only).");
    },
  },
);

export const gkeNoLegacyAuth = gkePolicy(
  { name: "gke-no-legacy-auth", description: "No basic authentication and no client certificate for the control plane (IAM and OIDC only).", severity: "high" },
  {
    cluster: (c, _a, report) => {
      if (known(() => c.masterAuth?.clientCertificateConfig?.issueClientCertificate) === true)
        report("masterAuth.clientCertificateConfig.issueClientCertificate is true: set it to false; clients authenticate with IAM.");
      const legacy = known(() => c.masterAuth as Record<string, unknown> | undefined);
      if (legacy && (legacy["username"] || legacy["password"])) report("masterAuth sets a username/password (basic auth): remove them.");
    },
  },
);

export const gkeMasterAuthorizedNetworks = gkePolicy(
  {
    name: "gke-master-authorized-networks",
    description: "The control plane accepts connections only from listed networks (masterAuthorizedNetworksConfig), never 0.0.0.0/0.",
    severity: "high",
  },
  {
    cluster: (c, _a, report) => {
      const cfg = read(() => c.masterAuthorizedNetworksConfig);
      if (cfg.kind === "absent") {
        report(
          "masterAuthorizedNetworksConfig is not set: the control plane accepts connections from anywhere. List the CIDR blocks of your CI runners and operators.",
        );
        return;
      }
      for (const b of asArray(known(() => c.masterAuthorizedNetworksConfig?.cidrBlocks))) {
        const cidr = known(() => b.cidrBlock);
        if (typeof cidr === "string" && isInternetWide(cidr))
          report(
            `masterAuthorizedNetworksConfig lists ${cidr}: that authorises the whole internet, or most of it. List the networks that need the control plane.`,
          );
      }
    },
  },
);

export const gkeNodeAutoRepairUpgrade = gkePolicy(
  {
    name: "gke-node-auto-repair-upgrade",
    description: "Node pools repair and upgrade themselves (management.autoRepair and autoUpgrade are not turned off).",
    severity: "medium",
  },
  {
    nodePool: (np, _a, report) => {
      for (const k of ["autoRepair", "autoUpgrade"] as const)
        if (known(() => np.management?.[k]) === false) report(`management.${k} is false: turn it back on (a release channel expects auto-upgrade).`);
    },
  },
);

export const gkeNodeServiceAccount = gkePolicy(
  {
    name: "gke-node-service-account",
    description: "Nodes run as a dedicated least-privilege service account, never the default compute account.",
    severity: "high",
  },
  {
    cluster: (c, _a, report) => {
      // Only the default pool uses the cluster's nodeConfig; a removed default pool has no nodes.
      if (known(() => c.removeDefaultNodePool) === true) return;
      const sa = read(() => c.nodeConfig?.serviceAccount);
      if (sa.kind === "absent")
        report("the default node pool runs as the default compute service account: set nodeConfig.serviceAccount or removeDefaultNodePool: true.");
      else if (sa.kind === "value" && isDefaultComputeAccount(sa.value)) report(`nodeConfig.serviceAccount is the default compute account (${sa.value}).`);
    },
    nodePool: (np, _a, report) => {
      const sa = read(() => np.nodeConfig?.serviceAccount);
      if (sa.kind === "absent")
        report(
          "nodeConfig.serviceAccount is not set, so nodes run as the default compute service account: give the pool a dedicated account with roles/container.defaultNodeServiceAccount.",
        );
      else if (sa.kind === "value" && isDefaultComputeAccount(sa.value))
        report(`nodeConfig.serviceAccount is the default compute account (${sa.value}): use a dedicated one.`);
    },
  },
);

export const gkePolicies = [
  gkePrivateNodes,
  gkeWorkloadIdentity,
  gkeShieldedNodes,
  gkeReleaseChannel,
  gkeNetworkPolicy,
  gkeLegacyAbacOff,
  gkeNoLegacyAuth,
  gkeMasterAuthorizedNetworks,
  gkeNodeAutoRepairUpgrade,
  gkeNodeServiceAccount,
];
