import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { vi } from "vitest";
import { parse, stringify } from "yaml";
import { formatProblems } from "../../src/config/load";
import { evaluateStack, type ProgramMessage, type StackOutputValue } from "../../src/plan/evaluate";
import type { DeclaredResource } from "../../src/plan/offlineCloud";
import { readStackFile } from "../../src/plan/stackFile";
import type { GkeClusterSettings, StackConfig } from "../../src/config/schema";
import { scratchDir } from "./scratch";

export const ROOT = resolve(__dirname, "../..");
export const stackFile = (stack: string) => join(ROOT, `Pulumi.${stack}.yaml`);

/** What one stack declared under the mock runtime, with lookups that fail loudly. */
export class DeclaredStack {
  constructor(
    readonly config: StackConfig,
    readonly resources: DeclaredResource[],
    readonly outputs: Record<string, StackOutputValue>,
    readonly messages: ProgramMessage[] = [],
  ) {}

  ofType(type: string): DeclaredResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  one(type: string, name?: string): DeclaredResource {
    const found = this.ofType(type).filter((r) => name === undefined || r.name === name);
    if (found.length !== 1)
      throw new Error(`expected exactly one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
    return found[0]!;
  }

  byUrn(urn: string): DeclaredResource {
    const r = this.resources.find((x) => x.urn === urn);
    if (!r) throw new Error(`no resource ${urn}`);
    return r;
  }

  output<T = unknown>(name: string): T {
    const o = this.outputs[name];
    if (!o) throw new Error(`no stack output ${name}`);
    return o.value as T;
  }
}

/** Evaluates a stack file with the real program (fresh module registry each time). */
export async function evaluateFile(stack: string, file: string): Promise<DeclaredStack> {
  vi.resetModules();
  const result = await evaluateStack(readStackFile(file, stack), () => import("../../src/index"));
  if (!result.ok) throw new Error(formatProblems(result.problems));
  return new DeclaredStack(result.config, result.resources, result.outputs, result.messages);
}

export const evaluateCommitted = (stack: string) => evaluateFile(stack, stackFile(stack));

/** A copy of a committed stack file with `edit` applied to its parsed YAML, written to a temp dir. */
export function editedStackFile(stack: string, edit: (config: Record<string, unknown>) => void): string {
  const doc = parse(readFileSync(stackFile(stack), "utf8")) as { config: Record<string, unknown> };
  edit(doc.config);
  const dir = scratchDir("stack-");
  const file = join(dir, `Pulumi.${stack}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** Reads a dotted path ("template.containers.0.image") from resource inputs. */
export function at<T = unknown>(obj: unknown, path: string): T {
  let v: unknown = obj;
  for (const p of path.split(".")) {
    if (v === null || typeof v !== "object") throw new Error(`path ${path} stops at ${p}`);
    v = (v as Record<string, unknown>)[p];
  }
  return v as T;
}

/** The GKE cluster settings of a config that has them (every committed stack). */
export function gkeOf(config: StackConfig): GkeClusterSettings {
  if (config.cluster.mode !== "gke") throw new Error(`cluster.mode is ${config.cluster.mode}, not gke`);
  return config.cluster;
}
