/**
 * Offline plan: evaluates the program for one stack with Pulumi's mock
 * runtime. No Pulumi CLI, no cloud credentials, no secrets needed.
 *
 *   npm run -s plan -- --stack production [--config-file PATH] [--json]
 *
 * Then runs the policy pack over what it declared, through the analyzer
 * protocol, as `pulumi preview --policy-pack` would.
 *
 * Exit codes: 0 ok, 1 bad input or config error, 2 mandatory policy violation.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { formatProblems } from "../config/load";
import { evaluateStack } from "../plan/evaluate";
import { DEFAULT_PACK, defaultPolicyConfigFile, policyVerdicts } from "../plan/policies";
import { readStackFile, StackFileError } from "../plan/stackFile";
import { PolicyConfigRejected, type PolicyVerdicts } from "../policy/check";
import { PolicyConfigFileError } from "../policy/packConfig";
import { redactSecrets } from "../plan/offlineCloud";
import { countByType, publicOutputs, renderOutputs, renderTree } from "../plan/render";
import { parseCommand, runMain, usageError } from "./common";

export const EXIT = { ok: 0, badInput: 1, policyViolation: 2 } as const;

export const USAGE = `usage: npm run -s plan -- --stack NAME [--config-file PATH] [--policy-pack DIR] [--policy-pack-config FILE] [--no-policies] [--json]

  --stack NAME               stack to evaluate; reads Pulumi.NAME.yaml unless --config-file is given
  --config-file PATH         evaluate this stack file instead (any file in the Pulumi.<stack>.yaml format)
  --policy-pack DIR          policy pack to run (default: policies)
  --policy-pack-config FILE  the pack's config (default: <pack>/config/NAME.json when it exists)
  --no-policies              skip the policy pack
  --json                     machine-readable output for CI
  -h, --help                 this text
  --version                  the tool's version

exit codes: 0 ok (advisory violations only), 1 bad input, a configuration error or an error the program logs (a production
            release its TrafficSplit would refuse), 2 a mandatory policy violation
`;

const DISCLAIMER =
  "Offline evaluation of the declared desired state with Pulumi's mock runtime. " +
  "Not a diff against the cloud: nothing was read from or sent to GCP, Vercel or Kubernetes, and secrets were not decrypted.";

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    "plan",
    argv,
    {
      stack: { type: "string" },
      "config-file": { type: "string" },
      "policy-pack": { type: "string" },
      "policy-pack-config": { type: "string" },
      "no-policies": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
    USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const values = parsed.values;
  /** A problem before the plan: JSON on stdout with --json (as the README promises), text on stderr. */
  const refuse = (message: string) => {
    if (values.json) process.stdout.write(`${JSON.stringify({ stack: values.stack ?? null, ok: false, problems: [{ problem: message }] }, null, 2)}\n`);
    process.stderr.write(`plan: ${message}\n`);
    return EXIT.badInput;
  };
  if (!values.stack) return usageError("plan", "--stack is required", USAGE);
  const stack = values.stack;
  const file = resolve(values["config-file"] ?? `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) return refuse(`no stack file for "${stack}": ${values["config-file"] ?? `Pulumi.${stack}.yaml`} does not exist`);

  let source;
  try {
    source = readStackFile(file, stack);
  } catch (e) {
    if (e instanceof StackFileError) return refuse(e.message);
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
    const configFile = values["policy-pack-config"] ? resolve(values["policy-pack-config"]) : defaultPolicyConfigFile(stack, packDir);
    if (configFile && !existsSync(configFile)) return refuse(`policy pack config ${values["policy-pack-config"]} does not exist`);
    if (!values.json)
      process.stderr.write(`Running policy pack ${packDir}${configFile ? ` with ${configFile}` : " (no config: production-strict defaults)"}...\n`);
    try {
      policies = await policyVerdicts(stack, result.resources, { packDir, configFile });
    } catch (e) {
      if (e instanceof PolicyConfigRejected || e instanceof PolicyConfigFileError) return refuse(e.message);
      throw e;
    }
  }
  // An error the program logs (a production release its TrafficSplit would refuse) fails a preview: the plan too.
  const programErrors = result.messages.filter((m) => m.severity === "error").length;
  const exitCode = policies && policies.mandatory > 0 ? EXIT.policyViolation : programErrors > 0 ? EXIT.badInput : EXIT.ok;

  const counts = countByType(result.resources);
  if (values.json) {
    const report = {
      stack,
      origin: source.origin,
      ok: programErrors === 0,
      offline: true,
      note: DISCLAIMER,
      environment: result.config.environment,
      resources: result.resources.map((r) => ({
        urn: r.urn,
        type: r.type,
        name: r.name,
        parent: r.parent ?? null,
        custom: r.custom,
        inputs: redactSecrets(r.inputs),
      })),
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
    ...(result.messages.length > 0
      ? ["", "Messages from the program:", ...result.messages.map((m) => `  ${m.severity}: ${m.text.replace(/\n/g, "\n    ")}`)]
      : []),
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
  const body = p.violations.map(
    (v) =>
      `  ${v.enforcementLevel === "mandatory" ? "BLOCK" : "warn "}  ${v.policyName}  ${v.urn.split("::").pop() ?? ""}\n         ${v.detail.replace(/\n/g, "\n         ")}`,
  );
  return [
    head,
    ...body,
    ...(p.mandatory > 0
      ? ["", "Mandatory violations block `pulumi preview/up --policy-pack policies`: fix them or change the level in the pack's config."]
      : []),
  ];
}

runMain("plan", main);
