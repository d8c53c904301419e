import { deepMerge, releaseDefaults } from "../../src/config/defaults";
import { ReleaseConfig, type Environment } from "../../src/config/schema";
import type { ReleaseSpec } from "../../src/release/spec";
import { releaseSpec } from "../../src/release/spec";

/**
 * A release spec built the way the stacks build theirs: an environment's
 * release defaults, a test's overrides on top, parsed by the config schema,
 * turned into a spec by releaseSpec. Tests never restate the defaults.
 */
export function specFor(environment: Environment, overrides: Record<string, unknown> = {}, spec: Partial<ReleaseSpec> = {}): ReleaseSpec {
  const release = ReleaseConfig.parse(deepMerge(releaseDefaults(environment, overrides), overrides));
  return { ...releaseSpec(release), ...spec };
}
