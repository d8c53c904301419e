import { z } from "zod";
import { projectEnvironment } from "../../policies/lib/environment";
import { setOwn, withDefaults } from "./defaults";
import { looksLikeUrl, shownUrl } from "./outbound";
import { crossFieldIssues, ENVIRONMENTS, SECRET_KEYS, StackConfig, type Environment } from "./schema";

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
  /** Full keys outside this project's namespace (another namespace, or none), to catch a mistyped one. */
  otherKeys?: readonly string[];
}

/**
 * Namespaces a stack file may use besides this project's: Pulumi's own and
 * the providers' (their default providers read them). Anything else is a
 * typo or a key this program never reads.
 */
export const OTHER_NAMESPACES = ["pulumi", "gcp", "google-native", "kubernetes", "vercel", "random"] as const;

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
  if (typeof value === "string" && looksLikeUrl(value)) return shownUrl(value);
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

/** Levenshtein distance, to suggest the option a typo was meant to be. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function closest(found: unknown, options: readonly unknown[]): string | undefined {
  if (typeof found !== "string") return undefined;
  const ranked = options.filter((o): o is string => typeof o === "string").sort((x, y) => distance(found, x) - distance(found, y));
  const best = ranked[0];
  return best !== undefined && distance(found, best) <= Math.max(2, Math.floor(best.length / 4)) ? best : undefined;
}

/** One readable sentence per zod issue: what was expected, what was found. */
function describeIssue(issue: z.core.$ZodIssue, found: unknown, isSecret: boolean): string {
  const shown = isSecret ? "" : ` (found ${describe(found)})`;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}${shown}`;
    case "invalid_value": {
      // Our own messages (e.g. the plaintext-secret rule) say it better than a generic one.
      if (!issue.message.startsWith("Invalid")) return issue.message;
      if (issue.values.length <= 6) return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}${shown}`;
      const hint = closest(found, issue.values);
      return `expected one of ${issue.values.length} allowed values${shown}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ""}`;
    }
    case "custom":
      return issue.message;
    case "invalid_union": {
      const options = /^Invalid discriminator value\. Expected (.*)$/.exec(issue.message)?.[1];
      if (options)
        return `expected one of ${options
          .split(" | ")
          .map((o) => `"${o.replace(/^'|'$/g, "")}"`)
          .join(", ")}${shown}`;
      return `${issue.message}${shown}`;
    }
    default:
      return `${issue.message.replace(/^Invalid (input|string): /, "").replace(/^Too (small|big): expected /, "expected ")}${shown}`;
  }
}

function problemsFromZod(error: z.ZodError, merged: Record<string, unknown>, source: ConfigSource): ConfigProblem[] {
  const at = { stack: source.stack, origin: source.origin };
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    let path = issue.path;
    const isSecret = SECRET_KEY_SET.has(String(path[0]));
    // A plaintext secret fails at `<key>.secret`; the user knows the key, not our wrapper.
    if (isSecret && path.length === 2 && (path[1] === "secret" || path[1] === "value")) path = path.slice(0, 1);
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) out.push({ ...at, key: keyPath([...path, k]), problem: "unknown key (not in the config schema; check the spelling)" });
      continue;
    }
    const found = valueAt(merged, issue.path);
    if (issue.code === "invalid_type" && found === undefined) {
      const misplaced = path.length === 1 ? (source.otherKeys ?? []).find((k) => k === String(path[0]) || k.endsWith(`:${String(path[0])}`)) : undefined;
      const problem = misplaced
        ? `required key is missing; ${misplaced} is set instead (a mistyped namespace?): use ${PROJECT}:${String(path[0])}`
        : isSecret
          ? `required secret is missing: set it with \`pulumi config set --secret ${String(path[0])} <value> --stack ${source.stack}\``
          : `required key is missing (expected ${issue.expected})`;
      out.push({ ...at, key: keyPath(path), problem });
      continue;
    }
    out.push({ ...at, key: keyPath(path), problem: describeIssue(issue, found, isSecret) });
  }
  return out;
}

/** Turns Pulumi's raw strings into JSON values; secrets keep their secretness. */
function decodeValues(source: ConfigSource): { decoded: Record<string, unknown>; problems: ConfigProblem[] } {
  const decoded: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [key, raw] of Object.entries(source.values)) {
    if (SECRET_KEY_SET.has(key)) {
      setOwn(decoded, key, { secret: source.secretKeys.has(key), value: raw });
    } else if (/^\s*[[{]/.test(raw)) {
      try {
        setOwn(decoded, key, JSON.parse(raw));
      } catch {
        problems.push({ stack: source.stack, origin: source.origin, key: `${PROJECT}:${key}`, problem: "is not valid structured config (JSON)" });
      }
    } else {
      setOwn(decoded, key, raw);
    }
  }
  return { decoded, problems };
}

/**
 * The environment a stack belongs to follows from its name: `dev`, `staging`,
 * `production`, or one of them followed by `-` and a suffix
 * (`production-eu`, `dev-feature-x`). Never from a config value: a stack
 * file that could say `environment: dev` could skip production's rules.
 */
export function environmentOfStack(stack: string): Environment | undefined {
  return ENVIRONMENTS.find((e) => stack === e || stack.startsWith(`${e}-`));
}

/** Pure: raw config in, a validated StackConfig or every problem found out. */
export function parseStackConfig(source: ConfigSource): ParseResult {
  // Only SECRET_KEYS are carried as secrets through the program; a secret anywhere else would be
  // decoded into plain values and reach state, outputs and error messages. Refused before any value is read.
  const strays = [...source.secretKeys].filter((k) => !SECRET_KEY_SET.has(k)).sort();
  if (strays.length > 0) {
    return {
      ok: false,
      problems: strays.map((k) => ({
        stack: source.stack,
        origin: source.origin,
        key: `${PROJECT}:${k}`,
        problem: `is set as a secret, but this program keeps only ${SECRET_KEYS.join(", ")} secret; any other key would reach the stack's state and outputs in plaintext: set it in plain text (\`pulumi config set ${k} ... --stack ${source.stack}\`, no --secret), and put credentials in one of those keys (webhooks authenticate with releaseWebhookSecret)`,
      })),
    };
  }
  const { decoded, problems } = decodeValues(source);
  problems.push(...namespaceProblems(source));
  const declared = decoded["environment"];
  const environment = environmentOfStack(source.stack);
  const at = { stack: source.stack, origin: source.origin, key: `${PROJECT}:environment` };
  if (environment === undefined) {
    problems.push({
      ...at,
      problem: `the stack name "${source.stack}" names no environment: name the stack dev, staging or production, or one of them followed by '-' and a suffix (e.g. dev-feature-x); the environment is never taken from config`,
    });
    return { ok: false, problems };
  }
  if (declared !== undefined && declared !== environment) {
    problems.push({
      ...at,
      problem: `stack ${source.stack} is ${environment}; its environment follows from the stack name, not from config (found ${describe(declared)}): remove the key`,
    });
    return { ok: false, problems };
  }
  const merged = withDefaults(environment, decoded);
  const parsed = StackConfig.safeParse(merged);
  if (!parsed.success) problems.push(...problemsFromZod(parsed.error, merged, source));
  // Strict objects report a `__proto__` key as unknown, but zod's records skip it without a word.
  const reported = new Set(problems.map((p) => p.key));
  for (const path of protoKeyPaths(decoded)) {
    const key = keyPath(path);
    if (!reported.has(key)) problems.push({ stack: source.stack, origin: source.origin, key, problem: "`__proto__` is not a key this config can have" });
  }
  if (parsed.success) {
    // The pack's record of which project is which environment binds the program too: nothing of a dev stack is planned into production.
    const project = parsed.data.gcp.project;
    const bound = projectEnvironment(project);
    if (bound && bound !== environment)
      problems.push({
        stack: source.stack,
        origin: source.origin,
        key: `${PROJECT}:gcp.project`,
        problem: `is ${project}, which policies/environments.json binds to ${bound}, but stack ${source.stack} is ${environment}: deploy it into a ${environment} project`,
      });
  }
  if (parsed.success && problems.length === 0) return { ok: true, config: parsed.data };
  if (!parsed.success) {
    // zod skips cross-field rules once a field is malformed; run them anyway so one pass shows everything.
    const seen = new Set(problems.map((p) => `${p.key}\n${p.problem}`));
    for (const issue of crossFieldIssues(merged)) {
      const p = { stack: source.stack, origin: source.origin, key: keyPath(issue.path), problem: issue.message };
      if (!seen.has(`${p.key}\n${p.problem}`)) problems.push(p);
    }
  }
  return { ok: false, problems };
}

/** Paths of every own `__proto__` key in a decoded JSON value. */
export function protoKeyPaths(value: unknown, path: PropertyKey[] = []): PropertyKey[][] {
  if (value === null || typeof value !== "object") return [];
  return Object.keys(value).flatMap((k) => {
    const at = [...path, Array.isArray(value) ? Number(k) : k];
    return k === "__proto__" ? [at] : protoKeyPaths((value as Record<string, unknown>)[k], at);
  });
}

/** A key of a namespace this program does not use is silently ignored by Pulumi: report it, with the key it was probably meant to be. */
function namespaceProblems(source: ConfigSource): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const full of source.otherKeys ?? []) {
    const colon = full.indexOf(":");
    const at = { stack: source.stack, origin: source.origin, key: full };
    if (colon < 0) {
      out.push({ ...at, problem: `has no namespace, so this program never reads it: did you mean ${PROJECT}:${full}?` });
      continue;
    }
    const namespace = full.slice(0, colon);
    if ((OTHER_NAMESPACES as readonly string[]).includes(namespace)) continue;
    const near = distance(namespace, PROJECT) <= Math.max(3, Math.floor(PROJECT.length / 4));
    out.push({
      ...at,
      problem: `namespace "${namespace}" is not used by this program or its providers${near ? `: did you mean ${PROJECT}:${full.slice(colon + 1)}?` : ` (allowed: ${PROJECT}, ${OTHER_NAMESPACES.join(", ")})`}`,
    });
  }
  return out;
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
