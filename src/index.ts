import { runtimeStackConfig } from "./config/runtime";
import { declareStack } from "./program";

const outputs = declareStack(runtimeStackConfig());

export const backendUrl = outputs.backendUrl;
export const frontendUrl = outputs.frontendUrl;
export const clusterName = outputs.clusterName;
export const clusterEndpoint = outputs.clusterEndpoint;
export const kubeconfig = outputs.kubeconfig;
export const revisions = outputs.revisions;
export const releases = outputs.releases;
