import * as gcp from "@pulumi/gcp";
import { validateResourceOfType, type ResourceValidation, type ResourceValidationPolicy } from "@pulumi/policy";
import { known, read } from "./policy";

/** How the GKE policies (gke.ts, gkeHardening.ts) are built: a cluster check, a node-pool check, or both. */
export type ClusterCheck = Parameters<typeof validateResourceOfType<gcp.container.Cluster, gcp.container.ClusterArgs>>[1];
export type NodePoolCheck = Parameters<typeof validateResourceOfType<gcp.container.NodePool, gcp.container.NodePoolArgs>>[1];
export type ClusterProps = Parameters<ClusterCheck>[0];

export const CLUSTER_TYPE = "gcp:container/cluster:Cluster";

/**
 * A GKE policy checking the cluster, the node pools, or both. One type: the
 * SDK's fast path skips every other resource without deserializing it. Both:
 * one function that dispatches on the type (an array of two validations
 * would deserialize every resource twice).
 */
export function gkePolicy(
  p: Omit<ResourceValidationPolicy, "validateResource" | "enforcementLevel">,
  checks: { cluster?: ClusterCheck; nodePool?: NodePoolCheck },
): ResourceValidationPolicy {
  const cluster = checks.cluster && validateResourceOfType(gcp.container.Cluster, checks.cluster);
  const nodePool = checks.nodePool && validateResourceOfType(gcp.container.NodePool, checks.nodePool);
  const validateResource: ResourceValidation =
    cluster && nodePool ? (args, report) => (args.type === CLUSTER_TYPE ? cluster : nodePool)(args, report) : (cluster ?? nodePool)!;
  return { ...p, enforcementLevel: "mandatory", validateResource };
}

export const isAutopilot = (c: ClusterProps) => known(() => c.enableAutopilot) === true;
/**
 * Does the cluster's own nodeConfig describe nodes that will run? Only for
 * the default node pool, which removeDefaultNodePool deletes (and Autopilot
 * has no node config of ours). Undefined while that is unknown.
 */
export function defaultPoolKept(c: ClusterProps): boolean | undefined {
  if (isAutopilot(c)) return false;
  const removed = read(() => c.removeDefaultNodePool);
  if (removed.kind === "unknown") return undefined;
  return !(removed.kind === "value" && removed.value === true);
}

type NodePoolProps = Parameters<NodePoolCheck>[0];
/** The node settings a node pool declares, or the cluster's own for its default pool. */
type NodeConfig = ClusterProps["nodeConfig"] | NodePoolProps["nodeConfig"];
type NodeConfigCheck = (nodeConfig: () => NodeConfig, pool: "default" | "separate", report: (message: string) => void) => void;

/**
 * One node-settings check for both places nodes are described: each node
 * pool's nodeConfig, and the cluster's own for its default pool (only while
 * that pool is kept: removeDefaultNodePool deletes it).
 */
export function onNodeConfig(check: NodeConfigCheck): { cluster: ClusterCheck; nodePool: NodePoolCheck } {
  return {
    cluster: (c, _a, report) => {
      if (defaultPoolKept(c) === true) check(() => c.nodeConfig, "default", report);
    },
    nodePool: (np, _a, report) => check(() => np.nodeConfig, "separate", report),
  };
}
