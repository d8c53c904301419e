import { z } from "zod";
import { withDefaults } from "./defaults";
import { ENVIRONMENTS, SECRET_KEYS, StackConfig, type Environment } from "./schema";

/** The Pulumi project name, which is also the config namespace. */
export const PROJECT = "progressive-delivery";

/** Raw stack configuration as Pulumi hands it over: strings, keyed without namespace. */
export interface ConfigSource {
  stack: string;
  /** Where the values came from, for messages: "Pulumi.production.yaml". */
  origin: string;
  values: Record<string, string>;
  /** Keys (without namespace) whose values were set as secrets. */
  secretKeys: ReadonlySet<string>;
}

/** One thing wrong with a stack's configuration. */
export interface ConfigProblem {
  stack: string;
  origin: string;
  /** Full config key path, e.g. "progressive-delivery:backend.maxInstances". */
  key: string;
  problem: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(formatProblems(problems));
    this.name = "ConfigError";
  }
}

export type ParseResult = { ok: true; config: StackConfig } | { ok: false; problems: ConfigProblem[] };

const SECRET_KEY_SET: ReadonlySet<string> = new Set(SECRET_KEYS);

function keyPath(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path;
  let out = `${PROJECT}:${String(head ?? "")}`;
  for (const p of rest) out += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function problemsFromZod(error: z.ZodError, merged: Record<string, unknown>, source: ConfigSource): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    let path = issue.path;
    // A plaintext secret fails at `<key>.secret`; the user knows the key, not our wrapper.
    if (path.length === 2 && path[1] === "secret" && SECRET_KEY_SET.has(String(path[0]))) path = path.slice(0, 1);
    const at = { stack: source.stack, origin: source.origin };
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) out.push({ ...at, key: keyPath([...path, k]), problem: "unknown key (not in the config schema; check the spelling)" });
      continue;
    }
    const found = valueAt(merged, issue.path);
    if (issue.code === "invalid_type" && found === undefined) {
      out.push({ ...at, key: keyPath(path), problem: `required key is missing (expected ${issue.expected})` });
      continue;
    }
    if (issue.code === "invalid_union" && "discriminator" in issue) {
      out.push({ ...at, key: keyPath(path), problem: `${issue.message} (found ${describe(found)})` });
      continue;
    }
    const shown = SECRET_KEY_SET.has(String(path[0])) ? "" : ` (found ${describe(found)})`;
    const message = issue.code === "custom" ? issue.message : `expected ${issue.message.replace(/^Invalid input: expected /, "").replace(/^Invalid (string|input): /, "")}`;
    out.push({ ...at, key: keyPath(path), problem: issue.code === "custom" ? message : `${message}${shown}` });
  }
  return out;
}

/** Turns Pulumi's raw strings into JSON values; secrets keep their secretness. */
function decodeValues(source: ConfigSource): { decoded: Record<string, unknown>; problems: ConfigProblem[] } {
  const decoded: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [key, raw] of Object.entries(source.values)) {
    if (SECRET_KEY_SET.has(key)) {
      decoded[key] = { secret: source.secretKeys.has(key), value: raw };
    } else if (/^\s*[[{]/.test(raw)) {
      try {
        decoded[key] = JSON.parse(raw);
      } catch {
        problems.push({ stack: source.stack, origin: source.origin, key: `${PROJECT}:${key}`, problem: "is not valid structured config (JSON)" });
      }
    } else {
      decoded[key] = raw;
    }
  }
  return { decoded, problems };
}

/** Pure: raw config in, a validated StackConfig or every problem found out. */
export function parseStackConfig(source: ConfigSource): ParseResult {
  const { decoded, problems } = decodeValues(source);
  const declared = decoded["environment"];
  const fromStack = (ENVIRONMENTS as readonly string[]).includes(source.stack) ? (source.stack as Environment) : undefined;
  const environment = typeof declared === "string" && (ENVIRONMENTS as readonly string[]).includes(declared) ? (declared as Environment) : fromStack;
  if (environment === undefined) {
    problems.push({
      stack: source.stack,
      origin: source.origin,
      key: `${PROJECT}:environment`,
      problem: `expected one of ${ENVIRONMENTS.join(", ")} (found ${describe(declared)}; the stack name "${source.stack}" is not an environment either)`,
    });
    return { ok: false, problems };
  }
  const merged = withDefaults(environment, decoded);
  const parsed = StackConfig.safeParse(merged);
  if (parsed.success && problems.length === 0) return { ok: true, config: parsed.data };
  return { ok: false, problems: [...problems, ...(parsed.success ? [] : problemsFromZod(parsed.error, merged, source))] };
}

export function formatProblems(problems: ConfigProblem[]): string {
  if (problems.length === 0) return "no configuration problems";
  const first = problems[0]!;
  const lines = problems.map((p) => `  - ${p.key}: ${p.problem}`);
  return `${problems.length} configuration problem${problems.length === 1 ? "" : "s"} in stack "${first.stack}" (${first.origin}):\n${lines.join("\n")}`;
}

/** Parses or throws a ConfigError listing every problem. */
export function requireStackConfig(source: ConfigSource): StackConfig {
  const result = parseStackConfig(source);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}
