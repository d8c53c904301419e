/**
 * Detection benchmark: this project's analysis against Flagger-, Argo- and
 * Kayenta-style rules and the statistical floor, on seeded synthetic streams.
 *
 *   npm run bench:detection            full grid, writes BENCHMARKS.md
 *   npm run bench:detection -- --quick reduced grid (same output shape), writes BENCHMARKS.md
 *   npm run bench:detection -- --json  prints the numbers as JSON (BENCHMARKS.md untouched)
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FULL, QUICK, runGrid } from "./grid";
import { checkGoals, renderMarkdown } from "./report";

const ROOT = join(__dirname, "..", "..");
const FILE = join(ROOT, "BENCHMARKS.md");
const BEGIN = "<!-- detection-benchmark:begin -->";
const END = "<!-- detection-benchmark:end -->";

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
  const machine = `${cpus().length}× ${cpus()[0]?.model.trim() ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const section = renderMarkdown(result, { date: new Date().toISOString().slice(0, 10), machine, command: `npm run bench:detection${values.quick ? " -- --quick" : ""}`, seconds });
  const current = existsSync(FILE) ? readFileSync(FILE, "utf8") : "# Benchmarks\n";
  const block = `${BEGIN}\n${section}\n${END}`;
  const next = current.includes(BEGIN) ? current.replace(new RegExp(`${BEGIN}[\\s\\S]*${END}`), block) : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(FILE, next);
  process.stderr.write(`bench:detection: wrote ${FILE} (${seconds.toFixed(0)} s)\n`);
}

main();
