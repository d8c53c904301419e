import { type PolicyResource, type StackValidationPolicy } from "@pulumi/policy";
import { strictEnvironmentOf } from "./lib/environment";
import { CLUSTER_TYPE, defaultPoolKept, gkePolicy, isAutopilot, onNodeConfig } from "./lib/gke";
import { absentOr, known, read } from "./lib/policy";
import { knownElements, knownList } from "./lib/values";

/**
 * GKE hardening beyond gke.ts, one policy per scanner concern (see the
 * scanner table in README.md): logging and monitoring, node image, VPC-native
 * networking, intranode visibility, Binary Authorization, legacy metadata
 * endpoints, secure boot, node pools outside the cluster, no alpha features,
 * production spread over zones. Where GKE's default is the safe value
 * (VPC_NATIVE, COS_CONTAINERD, legacy endpoints off since 1.12), an unset
 * property passes and only an explicit unsafe value fails; where the default
 * is unsafe (secure boot, intranode visibility, Binary Authorization), the
 * property must be set.
 */
const LOGGING_SERVICE = "logging.googleapis.com/kubernetes";
const MONITORING_SERVICE = "monitoring.googleapis.com/kubernetes";

export const gkeLoggingMonitoring = gkePolicy(
  {
    name: "gke-logging-monitoring",
    description:
      "Cloud Logging and Cloud Monitoring for GKE stay on: loggingService/monitoringService are unset or the Kubernetes services (never none or the legacy ones), and loggingConfig/monitoringConfig, where set, keep SYSTEM_COMPONENTS.",
    severity: "medium",
  },
  {
    cluster: (c, _a, report) => {
      const sinks = [
        {
          service: "loggingService",
          expected: LOGGING_SERVICE,
          config: "loggingConfig",
          value: read(() => c.loggingService),
          components: read(() => c.loggingConfig?.enableComponents),
        },
        {
          service: "monitoringService",
          expected: MONITORING_SERVICE,
          config: "monitoringConfig",
          value: read(() => c.monitoringService),
          components: read(() => c.monitoringConfig?.enableComponents),
        },
      ];
      for (const s of sinks) {
        if (s.value.kind === "value" && s.value.value !== s.expected) {
          report(
            `${s.service} is "${s.value.value}": ${s.value.value === "none" ? "that turns it off" : "that is not GKE's Kubernetes integration"}. Remove it or set "${s.expected}".`,
          );
        }
        if (s.components.kind !== "value") continue;
        const all = s.components.value;
        const list = knownElements(all);
        if (list.length === all.length && !list.includes("SYSTEM_COMPONENTS")) {
          report(
            `${s.config}.enableComponents is [${list.join(", ")}]: without SYSTEM_COMPONENTS the control plane and system pods send nothing. Include SYSTEM_COMPONENTS (and WORKLOADS for logs).`,
          );
        }
      }
    },
  },
);

/** Container-Optimized OS node images: COS_CONTAINERD (and the older COS). */
const COS_IMAGE = /^cos(_containerd)?$/i;

export const gkeNodeImageCos = gkePolicy(
  {
    name: "gke-node-image-cos",
    description:
      "Nodes run Container-Optimized OS: nodeConfig.imageType, where a node pool (or a kept default pool) sets it, is COS_CONTAINERD (or COS); unset is GKE's default, COS_CONTAINERD.",
    severity: "medium",
  },
  onNodeConfig((nodeConfig, _pool, report) => {
    const image = read(() => nodeConfig()?.imageType);
    if (image.kind === "value" && !COS_IMAGE.test(image.value))
      report(
        `nodeConfig.imageType is "${image.value}": use "COS_CONTAINERD" (Container-Optimized OS: read-only root, minimal packages, automatic security updates).`,
      );
  }),
);

export const gkeVpcNative = gkePolicy(
  {
    name: "gke-vpc-native",
    description:
      "The cluster is VPC-native (alias IP ranges, ipAllocationPolicy): networkingMode is never ROUTES, so pod addresses are VPC addresses that firewall rules and flow logs see. Unset is VPC_NATIVE for new clusters (provider and GKE default).",
    severity: "medium",
  },
  {
    cluster: (c, _a, report) => {
      if (known(() => c.networkingMode) === "ROUTES")
        report(
          'networkingMode is "ROUTES": use "VPC_NATIVE" with an ipAllocationPolicy (secondary ranges for pods and services), so pods get alias IPs from the subnet.',
        );
    },
  },
);

const SUBNETWORK = "gcp:compute/subnetwork:Subnetwork";
const BINAUTHZ_POLICY = "gcp:binaryauthorization/policy:Policy";
const clusterName = (r: PolicyResource) => {
  const name = known(() => r.props["name"] as unknown);
  return typeof name === "string" ? name : r.name;
};

/**
 * Stack policy: intranode visibility exists to put pod-to-pod traffic in
 * the VPC's flow logs, so it is checked with the subnetwork the cluster
 * runs in (when the stack declares it).
 */
export const gkeIntranodeVisibility: StackValidationPolicy = {
  name: "gke-intranode-visibility",
  description:
    "VPC Flow Logs and intranode visibility: every Standard cluster sets enableIntranodeVisibility, so pod-to-pod traffic on one node also passes the VPC, and the subnetwork it runs in (when the stack declares it) keeps flow logs that record it.",
  severity: "low",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const c of args.resources.filter((r) => r.type === CLUSTER_TYPE)) {
      if (known(() => c.props["enableAutopilot"] as unknown) === true) continue; // on by default in Autopilot
      const v = read(() => c.props["enableIntranodeVisibility"] as boolean | undefined);
      if (v.kind === "unknown") continue;
      if (v.kind === "absent" || v.value !== true) {
        report(
          `cluster ${clusterName(c)}: enableIntranodeVisibility is ${v.kind === "value" ? String(v.value) : "not set (off)"}, so traffic between pods on one node never reaches the VPC: set it to true.`,
          c.urn,
        );
        continue;
      }
      const subnet = (c.propertyDependencies["subnetwork"] ?? []).find((d) => d.type === SUBNETWORK);
      if (subnet && read(() => subnet.props["logConfig"] as unknown).kind === "absent") {
        report(
          `cluster ${clusterName(c)} has intranode visibility, but its subnetwork ${subnet.name} keeps no flow logs, so nothing records that traffic: add logConfig to the subnetwork.`,
          c.urn,
        );
      }
    }
  },
};

const ENFORCING_MODES = ["PROJECT_SINGLETON_POLICY_ENFORCE", "POLICY_BINDINGS_AND_PROJECT_SINGLETON_POLICY_ENFORCE"];

/**
 * Stack policy: a cluster that enforces the project's Binary Authorization
 * policy is only as strict as that policy, so the two are checked together.
 */
export const gkeBinaryAuthorization: StackValidationPolicy = {
  name: "gke-binary-authorization",
  description:
    "Every cluster enforces the project's Binary Authorization policy at admission (binaryAuthorization.evaluationMode PROJECT_SINGLETON_POLICY_ENFORCE), and a Binary Authorization policy the stack declares does not admit every image by default (defaultAdmissionRule ALWAYS_ALLOW).",
  severity: "high",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    for (const c of args.resources.filter((r) => r.type === CLUSTER_TYPE)) {
      const config = read(() => c.props["binaryAuthorization"] as { evaluationMode?: string; enabled?: boolean } | undefined);
      const mode = read(() => (config.kind === "value" ? config.value.evaluationMode : undefined));
      const legacy = read(() => (config.kind === "value" ? config.value.enabled : undefined));
      if (config.kind === "unknown" || mode.kind === "unknown" || legacy.kind === "unknown") continue;
      if (mode.kind === "value" && ENFORCING_MODES.includes(mode.value)) continue;
      if (mode.kind === "absent" && legacy.kind === "value" && legacy.value === true) continue;
      report(
        `cluster ${clusterName(c)}: binaryAuthorization.evaluationMode is ${mode.kind === "value" ? `"${mode.value}"` : "not set"}: set it to "PROJECT_SINGLETON_POLICY_ENFORCE" so only images the project's policy admits run.`,
        c.urn,
      );
    }
    for (const p of args.resources.filter((r) => r.type === BINAUTHZ_POLICY)) {
      if (known(() => (p.props["defaultAdmissionRule"] as { evaluationMode?: string } | undefined)?.evaluationMode) === "ALWAYS_ALLOW") {
        report(
          `Binary Authorization policy ${p.name} admits every image by default (defaultAdmissionRule.evaluationMode ALWAYS_ALLOW), so enforcing it checks nothing: set ALWAYS_DENY (or REQUIRE_ATTESTATION) and list the allowed repositories in admissionWhitelistPatterns.`,
          p.urn,
        );
      }
    }
  },
};

const LEGACY_ENDPOINTS_KEY = "disable-legacy-endpoints";

const legacyEndpointsOff = onNodeConfig((nodeConfig, pool, report) => {
  const flag = read(() => nodeConfig()?.metadata?.[LEGACY_ENDPOINTS_KEY]);
  if (flag.kind === "value" && String(flag.value) !== "true")
    report(
      pool === "default"
        ? `nodeConfig.metadata["${LEGACY_ENDPOINTS_KEY}"] is "${flag.value}" for the default node pool: set it to "true" (or remove it: GKE 1.12 and later disable the endpoints by default).`
        : `nodeConfig.metadata["${LEGACY_ENDPOINTS_KEY}"] is "${flag.value}": set it to "true" (or remove it: GKE 1.12 and later disable the endpoints by default), so pods cannot read node credentials through the legacy metadata API.`,
    );
});

export const gkeLegacyMetadataEndpoints = gkePolicy(
  {
    name: "gke-legacy-metadata-endpoints",
    description:
      'The legacy Compute Engine metadata endpoints (v0.1, v1beta1, no Metadata-Flavor header) stay off: nodeConfig.metadata "disable-legacy-endpoints", where a node pool (or a kept default pool) sets it, is "true", and minMasterVersion, where set, is 1.12 or later (from which GKE disables them by default).',
    severity: "medium",
  },
  {
    cluster: (c, a, report) => {
      const version = known(() => c.minMasterVersion);
      const m = typeof version === "string" ? /^(\d+)\.(\d+)/.exec(version) : null;
      if (m && (Number(m[1]) < 1 || (Number(m[1]) === 1 && Number(m[2]) < 12)))
        report(
          `minMasterVersion is "${version}": before 1.12 the legacy metadata endpoints are on. Remove it (the release channel picks the version) or set a current one.`,
        );
      return legacyEndpointsOff.cluster(c, a, report);
    },
    nodePool: legacyEndpointsOff.nodePool,
  },
);

export const gkeSecureBoot = gkePolicy(
  {
    name: "gke-secure-boot",
    description:
      "Nodes boot with Secure Boot (nodeConfig.shieldedInstanceConfig.enableSecureBoot true, which GKE leaves off by default): only signed boot components and kernel modules load.",
    severity: "medium",
  },
  onNodeConfig((nodeConfig, pool, report) => {
    const v = read(() => nodeConfig()?.shieldedInstanceConfig?.enableSecureBoot);
    if (absentOr(v, (value) => value !== true))
      report(
        pool === "default"
          ? "nodeConfig.shieldedInstanceConfig.enableSecureBoot is not true for the default node pool: set it (or removeDefaultNodePool: true and configure the pools)."
          : `nodeConfig.shieldedInstanceConfig.enableSecureBoot is ${v.kind === "value" ? String(v.value) : "not set (off by default)"}: set it to true.`,
      );
  }),
);

export const gkeSeparateNodePools = gkePolicy(
  {
    name: "gke-separate-node-pools",
    description:
      "Node pools are separate gcp.container.NodePool resources, none inline in the cluster (nodePools), and the default node pool is removed (removeDefaultNodePool), so every pool is hardened and changed on its own.",
    severity: "low",
  },
  {
    cluster: (c, _a, report) => {
      if (isAutopilot(c)) return;
      const inline = knownList(() => c.nodePools);
      if (inline && inline.length > 0)
        report(
          `the cluster declares ${inline.length} node pool(s) inline (nodePools): declare each as a gcp.container.NodePool, so a pool's change does not touch the cluster.`,
        );
      if (defaultPoolKept(c) === true)
        report("the default node pool is kept: set removeDefaultNodePool: true (with initialNodeCount: 1) and run the workloads on separately managed pools.");
    },
  },
);

export const gkeNoAlphaFeatures = gkePolicy(
  {
    name: "gke-no-alpha-features",
    description: "No Kubernetes alpha features (enableKubernetesAlpha): alpha clusters get no upgrades or SLA and are deleted after 30 days.",
    severity: "medium",
  },
  {
    cluster: (c, _a, report) => {
      const v = known(() => c.enableKubernetesAlpha);
      if (v === true || String(v).toLowerCase() === "true")
        report("enableKubernetesAlpha is true: alpha clusters cannot be upgraded, have no SLA and are deleted after 30 days. Remove it.");
    },
  },
);

/** A GCP zone (europe-west1-b), as opposed to a region (europe-west1). */
const isZone = (location: string) => /-[a-z]$/.test(location);

export const gkeProductionMultiZone = gkePolicy(
  {
    name: "gke-production-multi-zone",
    description:
      "In production the cluster spans at least three zones: a regional location (nodeLocations unset or ≥ 3 zones) or nodeLocations listing three or more zones, so one zone's outage does not take the cluster.",
    severity: "medium",
  },
  {
    cluster: (c, args, report) => {
      if (strictEnvironmentOf(args.props, args.urn) !== "production") return;
      const location = read(() => c.location);
      const zones = knownList(() => c.nodeLocations);
      if (location.kind === "unknown" || zones === undefined) return;
      const spread = new Set(zones).size;
      if (location.kind === "absent") report("location is not set: set it to a region (e.g. europe-west1) for a regional cluster.");
      else if (spread > 0 && spread < 3)
        report(`nodeLocations lists ${spread} zone(s) (${zones.join(", ")}): list at least three, or leave it unset on a regional cluster.`);
      else if (spread === 0 && isZone(location.value))
        report(`location is the zone ${location.value}: a production cluster is regional (location: the region) or lists three zones in nodeLocations.`);
    },
  },
);

export const gkeHardeningPolicies = [
  gkeLoggingMonitoring,
  gkeNodeImageCos,
  gkeVpcNative,
  gkeIntranodeVisibility,
  gkeBinaryAuthorization,
  gkeLegacyMetadataEndpoints,
  gkeSecureBoot,
  gkeSeparateNodePools,
  gkeNoAlphaFeatures,
  gkeProductionMultiZone,
];
