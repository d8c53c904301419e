import * as pulumi from "@pulumi/pulumi";
import { setOwn } from "./defaults";
import { PROJECT, type ConfigSource } from "./load";

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
