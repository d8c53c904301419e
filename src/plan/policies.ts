import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { PROJECT } from "../config/load";
import type { AnalyzedResource } from "../policy/analyzer";
import { checkPolicies, type PolicyVerdicts } from "../policy/check";
import { loadPolicyConfig } from "../policy/packConfig";
import { startPack } from "../policy/packProcess";
import type { DeclaredResource } from "./offlineCloud";

const ROOT = resolve(__dirname, "..", "..");
export const DEFAULT_PACK = join(ROOT, "policies");

/** The pack's config for a stack: policies/config/<stack>.json when it exists (none: the pack's production-strict defaults). */
export function defaultPolicyConfigFile(stack: string, packDir = DEFAULT_PACK): string | undefined {
  const f = join(packDir, "config", `${stack}.json`);
  return existsSync(f) ? f : undefined;
}

export function toAnalyzed(r: DeclaredResource, use: "inputs" | "outputs"): AnalyzedResource {
  return {
    urn: r.urn,
    type: r.type,
    name: r.name,
    properties: use === "inputs" ? r.inputs : r.outputs,
    ...(r.parent ? { parent: r.parent } : {}),
    dependencies: r.dependsOn,
    propertyDependencies: r.propertyDependencies,
  };
}

/** Runs the policy pack over an offline evaluation exactly as `pulumi preview --policy-pack` would call it. */
export async function policyVerdicts(
  stack: string,
  resources: DeclaredResource[],
  opts: { packDir?: string; configFile?: string | undefined } = {},
): Promise<PolicyVerdicts> {
  const packDir = opts.packDir ?? DEFAULT_PACK;
  const config = opts.configFile ? loadPolicyConfig(opts.configFile) : {};
  const pack = await startPack(packDir);
  try {
    return await checkPolicies(
      pack.address,
      { stack, project: PROJECT, dryRun: true, config, ...(opts.configFile ? { configFile: opts.configFile } : {}) },
      resources.map((r) => toAnalyzed(r, "inputs")),
      resources.map((r) => toAnalyzed(r, "outputs")),
    );
  } catch (e) {
    const stderr = pack.stderr().trim();
    throw stderr ? new Error(`${(e as Error).message}\n${stderr}`) : e;
  } finally {
    await pack.stop();
  }
}
