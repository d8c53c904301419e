import { UnknownValueError, type PolicyConfigSchema, type ResourceValidationArgs, type StackValidationArgs } from "@pulumi/policy";
import { z } from "zod";

/**
 * A policy's configuration, written once in zod: the engine gets the JSON
 * schema (`configSchema`, validated by the Pulumi CLI), the policy parses
 * what it receives with the same schema, so a bad value fails loudly with
 * the key's path even where the CLI's validation is looser.
 */
export function configSchemaOf(schema: z.ZodObject): PolicyConfigSchema {
  const json = z.toJSONSchema(schema, { io: "input", target: "draft-07" }) as { properties?: PolicyConfigSchema["properties"]; required?: string[] };
  return { properties: json.properties ?? {}, ...(json.required?.length ? { required: json.required } : {}) };
}

/** Parses this policy's config (defaults applied); throws a message naming each bad key. */
export function readConfig<S extends z.ZodObject>(
  policy: string,
  schema: S,
  args: Pick<ResourceValidationArgs | StackValidationArgs, "getConfig">,
): z.infer<S> {
  const raw = { ...(args.getConfig<Record<string, unknown>>() ?? {}) };
  delete raw["enforcementLevel"];
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new Error(`invalid config for policy ${policy}: ${parsed.error.issues.map((i) => `${[policy, ...i.path].join(".")}: ${i.message}`).join("; ")}`);
}

/** Reads a value that may be unknown during preview: undefined instead of a thrown UnknownValueError. */
export function known<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e instanceof UnknownValueError) return undefined;
    throw e;
  }
}

/** A property as a policy sees it during preview: unknown (computed later), absent, or a value. */
export type Read<T> = { kind: "unknown" } | { kind: "absent" } | { kind: "value"; value: T };

/** Absent, or present with a value that fails `bad`: what most "must be set to a safe value" checks report (unknown is neither). */
export function absentOr<T>(r: Read<T>, bad: (value: T) => boolean): boolean {
  return r.kind === "absent" || (r.kind === "value" && bad(r.value));
}

/** Reads a property path; `read(() => props.a?.b)` is "unknown" if anything on the way is. */
export function read<T>(f: () => T): Read<NonNullable<T>> {
  try {
    const v = f();
    return v === undefined || v === null ? { kind: "absent" } : { kind: "value", value: v };
  } catch (e) {
    if (e instanceof UnknownValueError) return { kind: "unknown" };
    throw e;
  }
}

export const asArray = <T>(v: T[] | undefined | null): T[] => (Array.isArray(v) ? v : []);
