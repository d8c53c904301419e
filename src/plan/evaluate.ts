import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig, PROJECT, type ConfigProblem, type ConfigSource } from "../config/load";
import type { StackConfig } from "../config/schema";
import { OfflineCloud, type DeclaredResource } from "./offlineCloud";

export interface StackOutputValue {
  value: unknown;
  secret: boolean;
}

/** A diagnostic the program logged (pulumi.log.*), e.g. the release forecast. */
export interface ProgramMessage {
  severity: "info" | "warning" | "error";
  text: string;
}

export type Evaluation =
  | { ok: true; config: StackConfig; resources: DeclaredResource[]; outputs: Record<string, StackOutputValue>; messages: ProgramMessage[] }
  | { ok: false; problems: ConfigProblem[] };

// Internal SDK hooks (exported at run time, @internal in the typings).
type RegisterCallback = (err: unknown, resp?: { getUrn(): string }) => void;
interface Monitor {
  registerResource(req: RegisterRequest, cb: RegisterCallback): void;
}
type Runtime = Omit<typeof pulumi.runtime, "getMonitor"> & {
  getMonitor(): Monitor | undefined;
  waitForRPCs(): Promise<void>;
};
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProvider(): string;
  getIgnorechangesList(): string[];
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(cb: (deps: { getUrnsList(): string[] }, key: string) => void): void };
}
const runtime = pulumi.runtime as unknown as Runtime;

const promiseOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

/**
 * Runs the Pulumi program for one stack against the SDK's mock runtime and
 * returns what it declared. `loadProgram` imports the program module; the
 * caller owns module caching (tests reset modules between stacks).
 */
export async function evaluateStack(source: ConfigSource, loadProgram: () => Promise<Record<string, unknown>>): Promise<Evaluation> {
  // Validate first: a bad config must not register a single resource.
  const parsed = parseStackConfig(source);
  if (!parsed.ok) return parsed;

  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(source.values)) config[`${PROJECT}:${k}`] = v;
  pulumi.runtime.setAllConfig(
    config,
    [...source.secretKeys].map((k) => `${PROJECT}:${k}`),
  );

  const cloud = new OfflineCloud();
  await pulumi.runtime.setMocks(cloud, PROJECT, source.stack, false);

  const registered: Omit<DeclaredResource, "inputs" | "outputs">[] = [];
  const monitor = runtime.getMonitor();
  if (!monitor) throw new Error("the mock runtime did not install a monitor");
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, resp) => {
      if (!err && resp) {
        const parent = req.getParent();
        const provider = req.getProvider();
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((deps, key) => (propertyDependencies[key] = deps.getUrnsList()));
        registered.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          custom: req.getCustom(),
          ...(parent ? { parent } : {}),
          ...(provider ? { provider } : {}),
          ignoreChanges: req.getIgnorechangesList(),
          dependsOn: req.getDependenciesList(),
          propertyDependencies,
        });
      }
      cb(err, resp);
    });

  // Without an engine the SDK prints pulumi.log.* to the console; keep those messages for the report instead.
  const messages: ProgramMessage[] = [];
  const restore = captureProgramLogs(messages);
  const outputs: Record<string, StackOutputValue> = {};
  try {
    const exports = await loadProgram();
    for (const [key, value] of Object.entries(exports)) {
      if (pulumi.Output.isInstance(value)) {
        outputs[key] = { value: await promiseOf(value), secret: await pulumi.isSecret(value) };
      } else if (typeof value !== "function") {
        outputs[key] = { value, secret: false };
      }
    }
    await runtime.waitForRPCs();
  } finally {
    restore();
  }

  const resources = registered.map((r) => {
    const key = `${r.type}::${r.name}`;
    const inputs = cloud.inputsByKey.get(key) ?? {};
    return { ...r, inputs, outputs: cloud.outputsByKey.get(key) ?? inputs };
  });
  return { ok: true, config: parsed.config, resources, outputs, messages };
}

function captureProgramLogs(into: ProgramMessage[]): () => void {
  const saved = { log: console.log, warn: console.warn, error: console.error };
  const hook =
    (original: (...a: unknown[]) => void) =>
    (...args: unknown[]) => {
      const text = args.map(String).join(" ");
      const m = /^(info|warning|error): \[runtime\] ([\s\S]*)$/.exec(text);
      if (m) into.push({ severity: m[1] as ProgramMessage["severity"], text: m[2]! });
      else original(...args);
    };
  console.log = hook(saved.log);
  console.warn = hook(saved.warn);
  console.error = hook(saved.error);
  return () => Object.assign(console, saved);
}
