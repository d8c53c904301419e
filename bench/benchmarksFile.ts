import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";

/** BENCHMARKS.md: each benchmark owns one section between its own markers and replaces only that. */
export const BENCHMARKS_FILE = join(resolve(__dirname, ".."), "BENCHMARKS.md");

/** The machine a run was measured on, for the section's first line (numbers are only comparable within one run). */
export function machine(): string {
  const kernel = existsSync("/proc/version") ? `, ${readFileSync("/proc/version", "utf8").split(" ").slice(0, 3).join(" ")}` : "";
  return `${cpus().length}× ${cpus()[0]?.model.trim() ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}${kernel}`;
}

/** Replaces the section `name` (between `<!-- name:begin -->` and `<!-- name:end -->`), or appends it. */
export function writeSection(name: string, section: string): void {
  const [begin, end] = [`<!-- ${name}:begin -->`, `<!-- ${name}:end -->`];
  const current = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, "utf8") : "# Benchmarks\n";
  const block = `${begin}\n${section}\n${end}`;
  writeFileSync(
    BENCHMARKS_FILE,
    current.includes(begin) ? current.replace(new RegExp(`${begin}[\\s\\S]*${end}`), block) : `${current.trimEnd()}\n\n${block}\n`,
  );
}
