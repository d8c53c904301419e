import * as pulumi from "@pulumi/pulumi";
import { ConfigError, requireStackConfig } from "./config/load";
import { configFromRuntime } from "./config/runtime";
import { declareStack } from "./program";

function loadConfig() {
  try {
    return requireStackConfig(configFromRuntime());
  } catch (e) {
    // RunError prints the message alone: a config problem is not a crash, so no stack trace.
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

const outputs = declareStack(loadConfig());

export const backendUrl = outputs.backendUrl;
export const frontendUrl = outputs.frontendUrl;
export const clusterName = outputs.clusterName;
export const clusterEndpoint = outputs.clusterEndpoint;
export const kubeconfig = outputs.kubeconfig;
export const revisions = outputs.revisions;
export const releases = outputs.releases;
