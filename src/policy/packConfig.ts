import Ajv from "ajv";
import { readFileSync } from "node:fs";
import type { EnforcementLevel, PackInfo, PolicyConfigEntry } from "./analyzer";

/**
 * Policy pack config as the Pulumi CLI reads it (`--policy-pack-config
 * FILE`): each key is a policy name or "all"; a value is an enforcement
 * level or an object of properties (with an optional enforcementLevel).
 * Reconciled like the engine does: schema defaults, then the pack's
 * levels, then "all", then each policy's own entry; then every policy's
 * properties are validated against its configSchema.
 */

const VALID_LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "disabled", "remediate"];

export class PolicyConfigFileError extends Error {}

export function parsePolicyConfig(text: string, file: string): Record<string, PolicyConfigEntry> {
  if (text.trim() === "") return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new PolicyConfigFileError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new PolicyConfigFileError(`${file}: must be a JSON object of policy names`);
  const out: Record<string, PolicyConfigEntry> = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const level = (v: unknown): EnforcementLevel => {
      if (typeof v !== "string" || !VALID_LEVELS.includes(v as EnforcementLevel))
        throw new PolicyConfigFileError(`${file}: ${name}: ${JSON.stringify(v)} is not a valid enforcement level (one of ${VALID_LEVELS.join(", ")})`);
      return v as EnforcementLevel;
    };
    if (typeof value === "string") out[name] = { enforcementLevel: level(value) };
    else if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const { enforcementLevel, ...properties } = value as Record<string, unknown>;
      out[name] = {
        ...(enforcementLevel !== undefined ? { enforcementLevel: level(enforcementLevel) } : {}),
        ...(Object.keys(properties).length ? { properties } : {}),
      };
    } else throw new PolicyConfigFileError(`${file}: ${name}: must be an enforcement level or an object`);
  }
  return out;
}

export const loadPolicyConfig = (file: string) => parsePolicyConfig(readFileSync(file, "utf8"), file);

export interface Reconciled {
  config: Record<string, PolicyConfigEntry>;
  /** "policy: problem" lines; non-empty means the CLI would refuse to run. */
  errors: string[];
}

export function reconcilePolicyConfig(info: PackInfo, given: Record<string, PolicyConfigEntry>, file = "policy config"): Reconciled {
  const known = new Set(info.policies.map((p) => p.name));
  const errors: string[] = Object.keys(given)
    .filter((k) => k !== "all" && !known.has(k))
    .map((k) => `${file}: ${k}: no such policy in ${info.name} (policies: ${[...known].join(", ")})`);
  const result: Record<string, PolicyConfigEntry> = {};
  for (const p of info.policies) {
    const defaults: Record<string, unknown> = {};
    for (const [k, schema] of Object.entries(p.configSchema?.properties ?? {})) {
      if (typeof schema === "object" && schema !== null && "default" in schema) defaults[k] = schema.default;
    }
    result[p.name] = { enforcementLevel: p.enforcementLevel, properties: defaults };
  }
  const all = given["all"]?.enforcementLevel;
  if (all) for (const entry of Object.values(result)) entry.enforcementLevel = all;
  for (const [name, entry] of Object.entries(given)) {
    if (name === "all" || !result[name]) continue;
    if (entry.enforcementLevel) result[name].enforcementLevel = entry.enforcementLevel;
    result[name].properties = { ...result[name].properties, ...entry.properties };
  }
  const ajv = new Ajv({ allErrors: true, strict: false });
  for (const p of info.policies) {
    if (!p.configSchema) {
      if (Object.keys(given[p.name]?.properties ?? {}).length) errors.push(`${file}: ${p.name}: this policy takes no configuration`);
      continue;
    }
    // Stricter than the CLI (its schema check lets unknown keys through): a typo should not silently keep the default.
    const keys = Object.keys(p.configSchema.properties);
    for (const k of Object.keys(given[p.name]?.properties ?? {})) {
      if (!keys.includes(k)) errors.push(`${file}: ${p.name}: unknown key ${k} (known: ${keys.join(", ")})`);
    }
    const validate = ajv.compile({
      type: "object",
      properties: p.configSchema.properties,
      ...(p.configSchema.required.length ? { required: p.configSchema.required } : {}),
    });
    if (!validate(result[p.name]!.properties ?? {})) {
      for (const e of validate.errors ?? [])
        errors.push(
          `${file}: ${p.name}${e.instancePath.replaceAll("/", ".")}: ${e.message ?? "invalid"}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`,
        );
    }
  }
  return { config: result, errors };
}
