import * as pulumi from "@pulumi/pulumi";
import { setOwn } from "./defaults";
import { ConfigError, PROJECT, requireStackConfig, type ConfigSource } from "./load";
import type { StackConfig } from "./schema";

// `isConfigSecret` is exported at run time but marked @internal in the typings;
// it is the only way to tell a `secure:` value from a plaintext one.
const runtime = pulumi.runtime as typeof pulumi.runtime & { isConfigSecret?: (key: string) => boolean };

/** The current stack's configuration in this project's namespace, as the engine passed it. */
export function configFromRuntime(): ConfigSource {
  const prefix = `${PROJECT}:`;
  const values: Record<string, string> = {};
  const secretKeys = new Set<string>();
  const otherKeys: string[] = [];
  for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
    if (!fullKey.startsWith(prefix)) {
      otherKeys.push(fullKey);
      continue;
    }
    const key = fullKey.slice(prefix.length);
    setOwn(values, key, value);
    if (runtime.isConfigSecret?.(fullKey)) secretKeys.add(key);
  }
  const stack = pulumi.getStack();
  return { stack, origin: `Pulumi.${stack}.yaml`, values, secretKeys, otherKeys };
}

/**
 * The running stack's validated config. A config problem ends the program
 * with its message alone (a RunError): bad input is not a crash, so no stack trace.
 */
export function runtimeStackConfig(): StackConfig {
  try {
    return requireStackConfig(configFromRuntime());
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
