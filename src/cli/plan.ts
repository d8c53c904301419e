/**
 * Offline plan: evaluates the program for one stack with Pulumi's mock
 * runtime. No Pulumi CLI, no cloud credentials, no secrets needed.
 *
 *   npm run plan -- --stack production [--config-file PATH] [--json]
 *
 * Then runs the policy pack over what it declared, through the analyzer
 * protocol, as `pulumi preview --policy-pack` would.
 *
 * Exit codes: 0 ok, 1 bad input or config error, 2 mandatory policy violation.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatProblems } from "../config/load";
import { evaluateStack } from "../plan/evaluate";
import { DEFAULT_PACK, defaultPolicyConfigFile, policyVerdicts } from "../plan/policies";
import { readStackFile, StackFileError } from "../plan/stackFile";
import { PolicyConfigRejected, type PolicyVerdicts } from "../policy/check";
import { PolicyConfigFileError } from "../policy/packConfig";
import { redactSecrets } from "../plan/offlineCloud";
import { countByType, publicOutputs, renderOutputs, renderTree } from "../plan/render";

export const EXIT = { ok: 0, badInput: 1, policyViolation: 2 } as const;

const USAGE = `usage: npm run plan -- --stack <dev|staging|production|name> [--config-file PATH] [--policy-config FILE] [--json]

  --stack NAME          stack to evaluate; reads Pulumi.NAME.yaml unless --config-file is given
  --config-file PATH    evaluate this stack file instead (any file in the Pulumi.<stack>.yaml format)
  --policy-pack DIR     policy pack to run (default: policies)
  --policy-config FILE  the pack's config (default: <pack>/config/NAME.json when it exists)
  --no-policies         skip the policy pack
  --json                machine-readable output for CI
`;

const DISCLAIMER =
  "Offline evaluation of the declared desired state with Pulumi's mock runtime. " +
  "Not a diff against the cloud: nothing was read from or sent to GCP, Vercel or Kubernetes, and secrets were not decrypted.";

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        stack: { type: "string" },
        "config-file": { type: "string" },
        "policy-pack": { type: "string" },
        "policy-config": { type: "string" },
        "no-policies": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`plan: ${(e as Error).message}\n${USAGE}`);
    return EXIT.badInput;
  }
  const { values } = args;
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (!values.stack) {
    process.stderr.write(`plan: --stack is required\n${USAGE}`);
    return EXIT.badInput;
  }
  const stack = values.stack;
  const file = resolve(values["config-file"] ?? `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) {
    process.stderr.write(`plan: no stack file for "${stack}": ${values["config-file"] ?? `Pulumi.${stack}.yaml`} does not exist\n`);
    return EXIT.badInput;
  }

  let source;
  try {
    source = readStackFile(file, stack);
  } catch (e) {
    if (e instanceof StackFileError) {
      process.stderr.write(`plan: ${e.message}\n`);
      return EXIT.badInput;
    }
    throw e;
  }

  if (!values.json) process.stderr.write(`Evaluating stack "${stack}" from ${source.origin} offline...\n`);
  const result = await evaluateStack(source, () => import("../index"));
  if (!result.ok) {
    if (values.json) process.stdout.write(`${JSON.stringify({ stack, origin: source.origin, ok: false, problems: result.problems }, null, 2)}\n`);
    else process.stderr.write(`${formatProblems(result.problems)}\n`);
    return EXIT.badInput;
  }

  let policies: PolicyVerdicts | undefined;
  if (!values["no-policies"]) {
    const packDir = resolve(values["policy-pack"] ?? DEFAULT_PACK);
    const configFile = values["policy-config"] ? resolve(values["policy-config"]) : defaultPolicyConfigFile(stack, packDir);
    if (configFile && !existsSync(configFile)) {
      process.stderr.write(`plan: policy config ${values["policy-config"]} does not exist\n`);
      return EXIT.badInput;
    }
    if (!values.json) process.stderr.write(`Running policy pack ${packDir}${configFile ? ` with ${configFile}` : " (no config: production-strict defaults)"}...\n`);
    try {
      policies = await policyVerdicts(stack, result.resources, { packDir, configFile });
    } catch (e) {
      if (e instanceof PolicyConfigRejected || e instanceof PolicyConfigFileError) {
        process.stderr.write(`plan: ${e.message}\n`);
        return EXIT.badInput;
      }
      throw e;
    }
  }
  const exitCode = policies && policies.mandatory > 0 ? EXIT.policyViolation : EXIT.ok;

  const counts = countByType(result.resources);
  if (values.json) {
    const report = {
      stack,
      origin: source.origin,
      ok: true,
      offline: true,
      note: DISCLAIMER,
      environment: result.config.environment,
      resources: result.resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent ?? null, custom: r.custom, inputs: redactSecrets(r.inputs) })),
      outputs: publicOutputs(result.outputs),
      messages: result.messages,
      summary: { total: result.resources.length, byType: counts },
      policies: policies ?? null,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return exitCode;
  }

  const lines = [
    `Offline plan for stack "${stack}" (${source.origin}, environment ${result.config.environment})`,
    DISCLAIMER,
    "",
    "Resources:",
    ...renderTree(result.resources),
    "",
    "Outputs:",
    ...renderOutputs(result.outputs),
    ...(result.messages.length > 0 ? ["", "Messages from the program:", ...result.messages.map((m) => `  ${m.severity}: ${m.text.replace(/\n/g, "\n    ")}`)] : []),
    "",
    `Summary: ${result.resources.length} resources of ${Object.keys(counts).length} types, ${Object.keys(result.outputs).length} outputs`,
    ...Object.entries(counts).map(([t, n]) => `  ${String(n).padStart(3)}  ${t}`),
    ...(policies ? ["", ...renderPolicies(policies)] : []),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return exitCode;
}

function renderPolicies(p: PolicyVerdicts): string[] {
  const head = `Policies (${p.pack.name}@${p.pack.version}): ${p.mandatory} mandatory, ${p.advisory} advisory violation(s)`;
  const body = p.violations.map((v) => `  ${v.enforcementLevel === "mandatory" ? "BLOCK" : "warn "}  ${v.policyName}  ${v.urn.split("::").pop() ?? ""}\n         ${v.detail.replace(/\n/g, "\n         ")}`);
  return [head, ...body, ...(p.mandatory > 0 ? ["", "Mandatory violations block `pulumi preview/up --policy-pack policies`: fix them or change the level in the pack's config."] : [])];
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`plan: unexpected failure: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env["DEBUG"]) process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(EXIT.badInput);
  },
);
