import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseDocument } from "yaml";
import { setOwn } from "../config/defaults";
import { PROJECT, type ConfigSource } from "../config/load";
import { UNDECRYPTED } from "../config/secretPlaceholder";

export class StackFileError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = "StackFileError";
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isSecure = (v: unknown): boolean => isObject(v) && Object.keys(v).length === 1 && typeof v["secure"] === "string";

/** Replaces nested `secure:` values with a placeholder and says whether any was found. */
function redactSecure(v: unknown): { value: unknown; secret: boolean } {
  if (isSecure(v)) return { value: UNDECRYPTED, secret: true };
  if (Array.isArray(v)) {
    const items = v.map(redactSecure);
    return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
  }
  if (isObject(v)) {
    let secret = false;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = redactSecure(x);
      out[k] = r.value;
      secret ||= r.secret;
    }
    return { value: out, secret };
  }
  return { value: v, secret: false };
}

/**
 * Reads a `Pulumi.<stack>.yaml` the way the CLI would hand it to the program,
 * except that `secure:` values are never decrypted: they become a placeholder
 * that is still marked secret. This is what lets pull requests from forks run
 * the plan without any key.
 */
export function readStackFile(path: string, stack: string): ConfigSource {
  const origin = basename(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new StackFileError(origin, `cannot read the stack file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new StackFileError(origin, `is not valid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
  const root: unknown = doc.toJS();
  if (root === null || root === undefined) return { stack, origin, values: {}, secretKeys: new Set() };
  if (!isObject(root)) throw new StackFileError(origin, "must be a YAML mapping with a `config:` key");
  const config = root["config"] ?? {};
  if (!isObject(config)) throw new StackFileError(origin, "`config:` must be a mapping of config keys");

  const values: Record<string, string> = {};
  const secretKeys = new Set<string>();
  const otherKeys: string[] = [];
  const prefix = `${PROJECT}:`;
  for (const [fullKey, raw] of Object.entries(config)) {
    // Other namespaces are checked by the loader (providers' are fine, a typo is not).
    if (!fullKey.startsWith(prefix)) {
      otherKeys.push(fullKey);
      continue;
    }
    const key = fullKey.slice(prefix.length);
    const { value, secret } = redactSecure(raw);
    if (secret) secretKeys.add(key);
    setOwn(values, key, typeof value === "string" ? value : JSON.stringify(value));
  }
  return { stack, origin, values, secretKeys, otherKeys };
}
