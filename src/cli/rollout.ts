/**
 * The release engine outside Pulumi, driven by a YAML or JSON file:
 *
 *   npm run rollout -- --config FILE [--dry-run] [--json]
 *
 * The file holds what a TrafficSplit takes: `stable`, `candidate`, a
 * `release` block with the stack config's schema (missing keys come from
 * the `environment`'s defaults), the `target` router and the `metrics`
 * source. Exit codes: 0 promoted, 3 rolled back or rejected, 4 held for
 * approval, 1 bad input or error.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { deepMerge, releaseDefaults } from "../config/defaults";
import { Environment } from "../config/schema";
import { describeForecast, forecast } from "../release/analysis/forecast";
import { releaseKeyOf } from "../release/checkpoint";
import { runRollout, type ProgressEvent } from "../release/driver";
import { TrafficSplitInputs } from "../release/provider/inputs";
import { depsFor, routerFor, specFor } from "../release/provider/wiring";

export const EXIT = { promoted: 0, error: 1, rejected: 3, held: 4 } as const;

const USAGE = `usage: npm run rollout -- --config FILE [--dry-run] [--json]

  --config FILE  YAML or JSON: stable, candidate, release, target, metrics (see README)
  --dry-run      evaluate the gates on live metrics; never move traffic or write a checkpoint
  --json         print the decision record as JSON on stdout (progress goes to stderr)
`;

function line(e: ProgressEvent): string {
  switch (e.kind) {
    case "weight":
      return `step ${e.step}/${e.of}: ${e.weight}% to the candidate`;
    case "window":
      return `  step ${e.step} @ ${e.weight}%: ${e.line}`;
    case "gate":
      return `gate ${e.gate}: ${e.passed ? "passed" : "FAILED"} — ${e.detail}`;
    case "rollback":
      return `ROLLBACK: ${e.reason} (traffic back on stable in ${e.restoreMs} ms; ${e.drained})`;
    case "done":
      return `${e.phase}: ${e.message}`;
    case "info":
      return e.message;
  }
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string" }, "dry-run": { type: "boolean", default: false }, json: { type: "boolean", default: false }, help: { type: "boolean", default: false } } }));
  } catch (e) {
    process.stderr.write(`rollout: ${(e as Error).message}\n${USAGE}`);
    return EXIT.error;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.promoted;
  }
  if (!values.config) {
    process.stderr.write(`rollout: --config is required\n${USAGE}`);
    return EXIT.error;
  }
  const file = values.config;
  let raw: Record<string, unknown>;
  try {
    const text = readFileSync(file, "utf8");
    raw = (file.endsWith(".json") ? JSON.parse(text) : parseYaml(text)) as Record<string, unknown>;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("the file must hold a mapping");
  } catch (e) {
    process.stderr.write(`rollout: ${file}: ${(e as Error).message}\n`);
    return EXIT.error;
  }

  const { environment: envRaw = "production", ...rest } = raw;
  const env = Environment.safeParse(envRaw);
  if (!env.success) {
    process.stderr.write(`rollout: ${file}: environment: expected one of dev, staging, production (found ${JSON.stringify(envRaw)})\n`);
    return EXIT.error;
  }
  const withRelease = { ...rest, environment: env.data, release: deepMerge(releaseDefaults(env.data, rest["release"]), rest["release"]) };
  const parsed = TrafficSplitInputs.safeParse(withRelease);
  if (!parsed.success) {
    process.stderr.write(`rollout: ${parsed.error.issues.length} problem(s) in ${file}:\n${parsed.error.issues.map((i) => `  - ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n")}\n`);
    return EXIT.error;
  }
  const i = parsed.data;
  const out = values.json ? process.stderr : process.stdout;
  const log = (e: ProgressEvent) => out.write(`${line(e)}\n`);
  const spec = specFor(i);
  if (i.release.strategy !== "direct") log({ kind: "info", message: describeForecast(forecast(spec, i.release.analysis.expectedRps)) });
  if (values["dry-run"]) log({ kind: "info", message: "dry run: gates are evaluated on live metrics; traffic and checkpoint are left alone" });

  const router = await routerFor(i);
  const result = await runRollout(
    {
      spec,
      stable: i.stable,
      candidate: i.candidate,
      releaseKey: releaseKeyOf(i.stable, i.candidate, i.retryToken),
      intervalMs: i.intervalSeconds * 1000,
      deadlineMs: i.deadlineSeconds * 1000,
      approvalWaitMs: i.approvalWaitSeconds * 1000,
      dryRun: values["dry-run"],
    },
    await depsFor(i, router, log),
  );
  if (values.json) {
    const s = result.state;
    const record = { phase: result.phase, stable: i.stable, candidate: i.candidate, dryRun: values["dry-run"], message: result.message, failure: s.failure, restoreMs: result.restoreMs, resumed: result.resumed, alreadyDecided: result.alreadyDecided, steps: s.records };
    process.stdout.write(`${JSON.stringify(record, (_k, v: unknown) => (v === Infinity ? "Infinity" : v), 2)}\n`);
  }
  return result.phase === "promoted" ? EXIT.promoted : result.phase === "held" ? EXIT.held : EXIT.rejected;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`rollout: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(EXIT.error);
  },
);
