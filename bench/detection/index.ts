/**
 * Detection benchmark: this project's analysis against Flagger-, Argo- and
 * Kayenta-style rules and the statistical floor, on seeded synthetic streams.
 *
 *   npm run bench:detection            full grid, writes BENCHMARKS.md
 *   npm run bench:detection -- --quick reduced grid (same output shape), writes BENCHMARKS.md
 *   npm run bench:detection -- --json  prints the numbers as JSON (BENCHMARKS.md untouched)
 */
import { parseArgs } from "node:util";
import { BENCHMARKS_FILE, machine, writeSection } from "../benchmarksFile";
import { FULL, QUICK, runGrid } from "./grid";
import { checkGoals, renderMarkdown } from "./report";

function main() {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, json: { type: "boolean", default: false } } });
  const grid = values.quick ? QUICK : FULL;
  const started = Date.now();
  const result = runGrid(grid, (m) => process.stderr.write(`bench:detection: ${m} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`));
  const seconds = (Date.now() - started) / 1000;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...result, goals: checkGoals(result), seconds }, null, 2)}\n`);
    return;
  }
  const section = renderMarkdown(result, {
    date: new Date().toISOString().slice(0, 10),
    machine: machine(),
    command: `npm run bench:detection${values.quick ? " -- --quick" : ""}`,
    seconds,
  });
  writeSection("detection-benchmark", section);
  process.stderr.write(`bench:detection: wrote ${BENCHMARKS_FILE} (${seconds.toFixed(0)} s)\n`);
}

main();
