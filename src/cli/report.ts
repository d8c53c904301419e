/**
 * Delivery report of a stack, from its update history:
 *
 *   npm run report -- --stack NAME [--since YYYY-MM-DD] [--format md|json] [--chart FILE] [--project-dir DIR]
 *
 * Deployment frequency, change failure rate, time to restore, lead time
 * (where the commits an update ran from are in this clone) and updates by
 * outcome, plus an SVG chart of updates per day (default
 * reports/delivery-<stack>.svg). Exit codes: 0 written, 1 error.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { deliveryReport, renderMarkdown, renderSvg } from "../report/delivery";
import type { HistoryEntry } from "../rollback/plan";
import { firstErrorLine, REPOSITORY_ROOT, selectStack } from "./stackSelection";

const USAGE = `usage: npm run report -- --stack NAME [--since YYYY-MM-DD] [--format md|json] [--chart FILE] [--project-dir DIR]
`;

/** When each commit was made, for the commits this clone has (others are left out of the lead time). */
function commitTimes(dir: string, commits: string[]): Map<string, Date> {
  const out = new Map<string, Date>();
  for (const c of new Set(commits)) {
    try {
      const seconds = Number(execFileSync("git", ["-C", dir, "show", "-s", "--format=%ct", c], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
      if (Number.isFinite(seconds) && seconds > 0) out.set(c, new Date(seconds * 1000));
    } catch {
      // Not in this clone (shallow, or another repository): no lead time for it.
    }
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { stack: { type: "string" }, since: { type: "string" }, format: { type: "string", default: "md" }, chart: { type: "string" }, "project-dir": { type: "string" }, help: { type: "boolean", default: false } },
    }));
  } catch (e) {
    process.stderr.write(`report: ${(e as Error).message}\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.stack) {
    process.stderr.write(`report: --stack is required\n${USAGE}`);
    return 1;
  }
  if (values.format !== "md" && values.format !== "json") {
    process.stderr.write(`report: --format must be md or json, not ${JSON.stringify(values.format)}\n`);
    return 1;
  }
  const since = values.since === undefined ? undefined : new Date(`${values.since}T00:00:00Z`);
  if (since && Number.isNaN(since.getTime())) {
    process.stderr.write(`report: --since must be a date such as 2026-11-01, not ${JSON.stringify(values.since)}\n`);
    return 1;
  }
  const selected = await selectStack(values.stack, values["project-dir"]);
  if ("problem" in selected) {
    process.stderr.write(`report: ${selected.problem}\n`);
    return 1;
  }
  let history: HistoryEntry[];
  try {
    // Without secrets: the report reads times, results and commits only.
    history = await selected.stack.history();
  } catch (e) {
    process.stderr.write(`report: cannot read the history of stack ${values.stack}: ${firstErrorLine(e)}\n`);
    return 1;
  }
  const heads = history.map((e) => e.environment?.["git.head"]).filter((h): h is string => typeof h === "string" && h.length > 0);
  const report = deliveryReport(values.stack, history, { now: new Date(), commitTimes: commitTimes(selected.projectDir, heads), ...(since ? { since } : {}) });
  const chart = resolve(values.chart ?? join(REPOSITORY_ROOT, "reports", `delivery-${values.stack.replace(/[^\w.-]+/g, "_")}.svg`));
  mkdirSync(dirname(chart), { recursive: true });
  writeFileSync(chart, renderSvg(report));
  process.stdout.write(values.format === "json" ? `${JSON.stringify({ ...report, chart }, null, 2)}\n` : renderMarkdown(report, relative(process.cwd(), chart)));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`report: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
