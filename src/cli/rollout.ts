/**
 * The release engine outside Pulumi, driven by a YAML or JSON file:
 *
 *   npm run -s rollout -- --config FILE [--json]            run the release
 *   npm run -s rollout -- --config FILE --plan [--json]     offline: steps, gates, forecast
 *   npm run -s rollout -- --config FILE --check [--json]    online, moves nothing
 *   npm run -s rollout -- --restore-stable (--config FILE | --stack NAME) [--force]
 *
 * The file holds what a TrafficSplit takes: `stable`, `candidate`, a
 * `release` block with the stack config's schema (missing keys come from
 * the `environment`'s defaults), the `target` router and the `metrics`
 * source. Exit codes: 0 promoted (or plan/check/restore ok), 3 rolled back
 * or rejected, 4 held, 5 interrupted (the live split or checkpoint did not
 * allow it; nothing moved), 1 bad input or error.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { deepMerge, releaseDefaults } from "../config/defaults";
import { protoKeyPaths } from "../config/load";
import { Environment } from "../config/schema";
import { describeForecast, forecast } from "../release/analysis/forecast";
import { runRollout, type ProgressEvent } from "../release/driver";
import { progressLine, restoreStable } from "../release/provider/engine";
import { TrafficSplitInputs } from "../release/provider/inputs";
import { depsFor, optionsFor, routerFor, specFor, templatesFor } from "../release/provider/wiring";
import { checkRelease } from "../release/check";
import { planOf, formatPlan } from "../release/plan";
import { trafficSplitsOf } from "./stackState";
import { formatIssues, parseCommand, runMain, usageError } from "./common";

export const EXIT = { promoted: 0, error: 1, rejected: 3, held: 4, interrupted: 5 } as const;

export const USAGE = `usage: npm run -s rollout -- --config FILE [--json]
       npm run -s rollout -- --config FILE --plan [--json] [--allow-inconclusive]
       npm run -s rollout -- --config FILE --check [--json]
       npm run -s rollout -- --restore-stable (--config FILE | --stack NAME [--project-dir DIR]) [--force] [--json]

  --config FILE         YAML or JSON: environment, stable, candidate, release, target, metrics (see README)
  --plan                offline: the steps, gates, bake and limit per step, expected duration and the
                        smallest detectable regression; no network
  --check               online, moves nothing: reads the live split and the checkpoint, runs every
                        metrics query for both arms, runs the smoke tests; exit 0 only if all answer
  --allow-inconclusive  start even when the forecast says a step cannot reach a verdict in time
  --restore-stable      put 100% back on stable from the checkpoint (after a killed update) and mark
                        the release interrupted, so the next run starts it afresh
  --stack NAME          with --restore-stable: every traffic split of this Pulumi stack
  --project-dir DIR     the Pulumi project of --stack (default: this repository)
  --force               with --restore-stable: even while another engine holds the release
  --json                machine-readable result on stdout (progress goes to stderr)
  -h, --help            this text
  --version             the tool's version

exit codes: 0 promoted / ok, 1 bad input or error, 3 rolled back or rejected, 4 held,
            5 interrupted (live split or checkpoint not as expected; nothing moved)
`;

/**
 * A parse error without the parser's excerpt of the file: the excerpt is the
 * file's own text, and the broken line may be the one holding a token.
 */
function syntaxProblem(e: unknown): string {
  const err = e as Error & { linePos?: { line: number; col: number }[]; code?: string };
  if (err.code === "ENOENT") return "no such file";
  if (err.code === "EACCES") return "not readable (permission denied)";
  if (err instanceof SyntaxError) return "is not valid JSON";
  const at = err.linePos?.[0];
  if (at) return `is not valid YAML at line ${at.line}, column ${at.col}: ${err.message.split(/ at line \d+|:\n/)[0]}`;
  return err.message;
}

/** Reads and validates the rollout file: every problem with its key, the value found and what is expected. */
function readRolloutFile(file: string): { inputs: TrafficSplitInputs; notes: string[] } | { problems: string[] } {
  let raw: Record<string, unknown>;
  try {
    const text = readFileSync(file, "utf8");
    raw = (file.endsWith(".json") ? JSON.parse(text) : parseYaml(text)) as Record<string, unknown>;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw new Error("the file must hold a mapping (stable, candidate, release, target, metrics)");
  } catch (e) {
    return { problems: [`${file}: ${syntaxProblem(e)}`] };
  }
  // zod's records skip a `__proto__` key without a word: say so.
  const proto = protoKeyPaths(raw);
  if (proto.length > 0) return { problems: proto.map((p) => `${file}: ${p.join(".")}: \`__proto__\` is not a key this file can have`) };
  const { environment: envRaw, ...rest } = raw;
  if (envRaw === undefined) return { problems: [`${file}: environment: required (dev, staging or production): it chooses the release defaults`] };
  const env = Environment.safeParse(envRaw);
  if (!env.success) return { problems: [`${file}: environment: expected one of dev, staging, production (found ${JSON.stringify(envRaw)})`] };
  const withRelease = { ...rest, environment: env.data, release: deepMerge(releaseDefaults(env.data, rest["release"]), rest["release"]) };
  const parsed = TrafficSplitInputs.safeParse(withRelease);
  if (!parsed.success) return { problems: formatIssues(parsed.error.issues, withRelease).map((p) => `${file}: ${p}`) };
  return { inputs: parsed.data, notes: [`release defaults of environment ${env.data} apply to keys the file does not set`] };
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    "rollout",
    argv,
    {
      config: { type: "string" },
      plan: { type: "boolean", default: false },
      check: { type: "boolean", default: false },
      "allow-inconclusive": { type: "boolean", default: false },
      "restore-stable": { type: "boolean", default: false },
      stack: { type: "string" },
      "project-dir": { type: "string" },
      force: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
    USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const values = parsed.values;
  const modes = [values.plan, values.check, values["restore-stable"]].filter(Boolean).length;
  if (modes > 1) return usageError("rollout", "--plan, --check and --restore-stable exclude each other", USAGE);
  const out = values.json ? process.stderr : process.stdout;
  const say = (line: string) => out.write(`${line}\n`);

  if (values["restore-stable"]) {
    if (!!values.config === !!values.stack) return usageError("rollout", "--restore-stable needs exactly one of --config FILE or --stack NAME", USAGE);
    let splits: { name: string; inputs: TrafficSplitInputs }[];
    if (values.config) {
      const r = readRolloutFile(values.config);
      if ("problems" in r) return usageError("rollout", r.problems.join("\n  "), "");
      splits = [{ name: values.config, inputs: r.inputs }];
    } else {
      const found = await trafficSplitsOf(values.stack!, values["project-dir"]);
      if ("problem" in found) return usageError("rollout", found.problem, "");
      splits = found.splits;
      if (splits.length === 0) say(`stack ${values.stack}: no traffic split in its state; nothing to restore`);
    }
    const results: { name: string; message: string; moved: boolean; error?: string }[] = [];
    for (const s of splits) {
      try {
        const r = await restoreStable(s.inputs, {
          reason: values.stack ? `npm run rollout -- --restore-stable --stack ${values.stack}` : "npm run rollout -- --restore-stable",
          force: values.force,
          log: say,
        });
        say(`${s.name}: ${r.message}`);
        results.push({ name: s.name, ...r });
      } catch (e) {
        const message = (e as Error).message;
        process.stderr.write(`rollout: ${s.name}: ${message}\n`);
        results.push({ name: s.name, message, moved: false, error: message });
      }
    }
    if (values.json) process.stdout.write(`${JSON.stringify({ restored: results }, null, 2)}\n`);
    return results.some((r) => r.error) ? EXIT.error : EXIT.promoted;
  }

  if (!values.config) return usageError("rollout", "--config is required", USAGE);
  const read = readRolloutFile(values.config);
  if ("problems" in read) {
    if (values.json) process.stdout.write(`${JSON.stringify({ ok: false, problems: read.problems }, null, 2)}\n`);
    return usageError("rollout", `${read.problems.length} problem(s) in ${values.config}:\n${read.problems.map((p) => `  - ${p}`).join("\n")}`, "");
  }
  const i = read.inputs;
  for (const n of read.notes) say(n);
  const spec = specFor(i);
  const plan = planOf(i, spec);

  if (values.plan) {
    if (values.json) process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    else say(formatPlan(plan));
    return plan.conclusive || values["allow-inconclusive"] || i.allowInconclusive ? EXIT.promoted : EXIT.error;
  }

  const log = (e: ProgressEvent) => say(progressLine(e));
  if (values.check) {
    const router = await routerFor(i);
    const report = await checkRelease(i, router, templatesFor(i), await depsFor(i, router, () => undefined));
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    for (const c of report.checks) say(`${c.ok ? "ok  " : "FAIL"} ${c.what}: ${c.detail}`);
    say(
      report.ok
        ? "check: everything the release needs answers"
        : `check: ${report.checks.filter((c) => !c.ok).length} problem(s); the release would not go well`,
    );
    return report.ok ? EXIT.promoted : EXIT.error;
  }

  if (i.release.strategy !== "direct" && !i.immediate) say(describeForecast(forecast(spec, i.release.analysis.expectedRps)));
  if (!plan.conclusive && !values["allow-inconclusive"] && !i.allowInconclusive) {
    return usageError("rollout", `${plan.inconclusive.join("; ")}. Nothing was started: ${plan.advice} (or pass --allow-inconclusive)`, "");
  }
  const router = await routerFor(i);
  const result = await runRollout(optionsFor(i), await depsFor(i, router, log));
  if (values.json) {
    const s = result.state;
    const record = {
      phase: result.phase,
      stable: i.stable,
      candidate: i.candidate,
      message: result.message,
      failure: s.failure,
      restoreMs: result.restoreMs,
      drain: result.drain,
      resumed: result.resumed,
      alreadyDecided: result.alreadyDecided,
      steps: s.records,
    };
    process.stdout.write(`${JSON.stringify(record, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
  }
  return result.phase === "promoted" ? EXIT.promoted : result.phase === "held" ? EXIT.held : result.phase === "interrupted" ? EXIT.interrupted : EXIT.rejected;
}

runMain("rollout", main);
