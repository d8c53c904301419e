import { AnalyzerSession, type AnalyzedResource, type Diagnostic, type PolicyConfigEntry } from "./analyzer";
import { reconcilePolicyConfig } from "./packConfig";

export interface PolicyVerdicts {
  pack: { name: string; version: string };
  violations: Diagnostic[];
  mandatory: number;
  advisory: number;
}

export class PolicyConfigRejected extends Error {
  constructor(readonly problems: string[]) {
    super(`policy pack config is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/**
 * Runs a pack over a stack's resources in the engine's order: info,
 * config (reconciled and validated, refused if invalid), stack
 * configuration, Analyze for every resource's inputs, AnalyzeStack over all
 * of them. `stackResources` are the outputs (the inputs when there are none).
 */
export async function checkPolicies(
  address: string,
  opts: { stack: string; project: string; dryRun: boolean; config: Record<string, PolicyConfigEntry>; configFile?: string },
  resources: AnalyzedResource[],
  stackResources: AnalyzedResource[] = resources,
): Promise<PolicyVerdicts> {
  const session = new AnalyzerSession(address);
  try {
    const info = await session.info();
    const { config, errors } = reconcilePolicyConfig(info, opts.config, opts.configFile);
    if (errors.length) throw new PolicyConfigRejected(errors);
    await session.configure(config);
    await session.configureStack({ stack: opts.stack, project: opts.project, dryRun: opts.dryRun });
    const violations: Diagnostic[] = [];
    for (const r of resources) violations.push(...(await session.analyze(r)).diagnostics);
    violations.push(...(await session.analyzeStack(stackResources)).diagnostics);
    return {
      pack: { name: info.name, version: info.version },
      violations,
      mandatory: violations.filter((v) => v.enforcementLevel === "mandatory").length,
      advisory: violations.filter((v) => v.enforcementLevel === "advisory").length,
    };
  } finally {
    session.close();
  }
}
