import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { z } from "zod";
import { looksLikeUrl, shownUrl } from "../config/outbound";

/**
 * What every command shares: exit only after stdout and stderr have been
 * flushed (a pipe receives the whole output, not the first 64 KiB),
 * one-line usage errors, --version, and problems that name the key, the
 * value found and what is expected.
 */

const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write("", () => resolve()));

/** Runs a command's main and exits with its code once everything written has left the process. */
export function runMain(name: string, main: (argv: string[]) => Promise<number>): void {
  void main(process.argv.slice(2))
    .catch((e: unknown) => {
      const message = e instanceof Error ? e.message : String(e);
      process.stderr.write(`${name}: ${/ENOENT.*\bpulumi\b|spawn pulumi ENOENT|code: -2/.test(message) ? PULUMI_MISSING : message}\n`);
      return 1;
    })
    .then(async (code) => {
      await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
      process.exit(code);
    });
}

type Options = NonNullable<ParseArgsConfig["options"]>;
export type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O }>>["values"];

/**
 * Parses a command's options; `-h`/`--help` and `--version` answer here.
 * Returns the values, or `exit` when the command is done (help, version, a
 * bad option: the message names it and prints the usage).
 */
export function parseCommand<O extends Options>(name: string, argv: string[], options: O, usage: string): { values: Parsed<O> } | { exit: number } {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" }, version: { type: "boolean" } } }) as {
      values: Record<string, unknown>;
    });
  } catch (e) {
    return { exit: usageError(name, (e as Error).message, usage) };
  }
  if (values["help"]) return { exit: exitAfterWrite(process.stdout, usage, 0) };
  if (values["version"]) return { exit: exitAfterWrite(process.stdout, versionText(name), 0) };
  return { values: values as Parsed<O> };
}

/** Whether an executable of this name is on PATH (the Automation API's own error is a bare `code: -2`). */
export function onPath(command: string): boolean {
  return (process.env["PATH"] ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export const PULUMI_MISSING = "the Pulumi CLI was not found on PATH: install it (https://www.pulumi.com/docs/install/) or put its directory first on PATH";

export function exitAfterWrite(stream: NodeJS.WriteStream, text: string, code: number): number {
  stream.write(text);
  return code;
}

export function usageError(name: string, message: string, usage: string): number {
  process.stderr.write(`${name}: ${message}\n${usage}`);
  return 1;
}

export function versionText(name: string): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as { name: string; version: string };
  return `${name} (${pkg.name} ${pkg.version})\n`;
}

/** Keys whose values are never shown, in any message. */
const SECRET_KEY = /token|secret|password|kubeconfig|credential|webhookurl|authorization/i;

function valueAt(input: unknown, path: PropertyKey[]): { found: boolean; value?: unknown } {
  let v: unknown = input;
  for (const k of path) {
    if (typeof v !== "object" || v === null || !(String(k) in v)) return { found: false };
    v = (v as Record<string, unknown>)[String(k)];
  }
  return { found: true, value: v };
}

/**
 * A found value as a message may show it. A secret can sit under any key
 * (a mapping given where a string was expected, a kubeconfig pasted into
 * the wrong field), so only scalars are shown: an object by its keys, a list
 * by its length, a URL without user info or query, and a string only when it
 * is short, one word and names nothing secret.
 */
export function shown(path: PropertyKey[], value: unknown): string {
  if (path.some((k) => SECRET_KEY.test(String(k)))) return "[secret]";
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (value !== null && typeof value === "object") return `an object with keys ${Object.keys(value).join(", ") || "(none)"}`;
  if (typeof value === "string") {
    if (looksLikeUrl(value)) return shownUrl(value);
    return value.length <= 40 && !/\s/.test(value) && !SECRET_KEY.test(value) ? JSON.stringify(value) : `a string of ${value.length} characters`;
  }
  return String(value);
}

/** zod issues as lines: the key, what is expected, and the value found (secrets masked). */
export function formatIssues(issues: z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((i) => {
    const key = i.path.join(".") || "(root)";
    const at = valueAt(input, i.path);
    const found = i.code === "unrecognized_keys" ? "" : at.found ? ` (found ${shown(i.path, at.value)})` : " (missing)";
    return `${key}: ${i.message}${found}`;
  });
}
