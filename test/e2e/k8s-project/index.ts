import { runtimeStackConfig } from "../../../src/config/runtime";
import { declareKubernetes } from "../../../src/program";

/**
 * The Kubernetes half of a stack, exactly as the program declares it
 * (src/program.ts declareKubernetes) from a whole stack config validated by
 * the real schema, with cluster.mode existing: the cluster is the test's
 * local control plane, reached through the `kubeconfig` secret.
 */
const { cluster, workloads } = declareKubernetes(runtimeStackConfig());

export const clusterName = cluster.name;
export const deployments = Object.keys(workloads.deployments);
export const routes = Object.keys(workloads.routes);
