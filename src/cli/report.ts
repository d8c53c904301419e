/**
 * Delivery report of a stack, from its update history:
 *
 *   npm run -s report -- --stack NAME [--since YYYY-MM-DD] [--format md|json] [--chart FILE] [--project-dir DIR]
 *
 * Deployment frequency, change failure rate, time to restore, lead time
 * (where the commits an update ran from are in this clone) and updates by
 * outcome; with --chart, an SVG chart of updates per day written to FILE
 * (its folder must exist). Exit codes: 0 written, 1 error.
 */
import { execFileSync } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { deliveryReport, renderMarkdown, renderSvg } from "../report/delivery";
import type { HistoryEntry } from "../rollback/plan";
import { parseCommand, runMain, usageError } from "./common";
import { firstErrorLine, selectStack } from "./stackSelection";

export const USAGE = `usage: npm run -s report -- --stack NAME [--since YYYY-MM-DD] [--format md|json] [--chart FILE] [--project-dir DIR]

  --stack NAME          the stack (as \`pulumi stack ls\` names it)
  --since YYYY-MM-DD    only updates from that day on (not in the future)
  --format md|json      Markdown (default) or JSON on stdout
  --chart FILE          also write an SVG chart of updates per day to FILE (its folder must exist)
  --project-dir DIR     the Pulumi project (default: this repository)
  -h, --help            this text
  --version             the tool's version

exit codes: 0 written, 1 error
`;

/** When each commit was made, for the commits this clone has (others are left out of the lead time). */
function commitTimes(dir: string, commits: string[]): Map<string, Date> {
  const out = new Map<string, Date>();
  for (const c of new Set(commits)) {
    try {
      const seconds = Number(
        execFileSync("git", ["-C", dir, "show", "-s", "--format=%ct", c], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim(),
      );
      if (Number.isFinite(seconds) && seconds > 0) out.set(c, new Date(seconds * 1000));
    } catch {
      // Not in this clone (shallow, or another repository): no lead time for it.
    }
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    "report",
    argv,
    {
      stack: { type: "string" },
      since: { type: "string" },
      format: { type: "string", default: "md" },
      chart: { type: "string" },
      "project-dir": { type: "string" },
    },
    USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const values = parsed.values;
  if (!values.stack) return usageError("report", "--stack is required", USAGE);
  if (values.format !== "md" && values.format !== "json") return usageError("report", `--format must be md or json, not ${JSON.stringify(values.format)}`, "");
  const since = values.since === undefined ? undefined : new Date(`${values.since}T00:00:00Z`);
  if (since && (!/^\d{4}-\d\d-\d\d$/.test(values.since!) || Number.isNaN(since.getTime())))
    return usageError("report", `--since must be a date such as 2026-11-01, not ${JSON.stringify(values.since)}`, "");
  const now = new Date();
  if (since && since.getTime() > now.getTime())
    return usageError("report", `--since ${values.since} is in the future (today is ${now.toISOString().slice(0, 10)})`, "");
  const chart = values.chart === undefined ? undefined : resolve(values.chart);
  if (chart && !(existsSync(dirname(chart)) && statSync(dirname(chart)).isDirectory()))
    return usageError("report", `--chart ${values.chart}: the folder ${dirname(chart)} does not exist (it is not created for you)`, "");
  const selected = await selectStack(values.stack, values["project-dir"]);
  if ("problem" in selected) return usageError("report", selected.problem, "");
  let history: HistoryEntry[];
  try {
    // Without secrets: the report reads times, results and commits only.
    history = await selected.stack.history(undefined, undefined, false);
  } catch (e) {
    return usageError("report", `cannot read the history of stack ${values.stack}: ${firstErrorLine(e)}`, "");
  }
  const heads = history.map((e) => e.environment?.["git.head"]).filter((h): h is string => typeof h === "string" && h.length > 0);
  const report = deliveryReport(values.stack, history, { now, commitTimes: commitTimes(selected.projectDir, heads), ...(since ? { since } : {}) });
  if (chart) writeFileSync(chart, renderSvg(report));
  process.stdout.write(
    values.format === "json"
      ? `${JSON.stringify({ ...report, chart: chart ?? null }, null, 2)}\n`
      : renderMarkdown(report, chart ? relative(process.cwd(), chart) : undefined),
  );
  return 0;
}

runMain("report", main);
