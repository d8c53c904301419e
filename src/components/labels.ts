import type { StackConfig } from "../config/schema";

/** Labels every labelable GCP resource carries (the labels policy checks them). */
export function standardLabels(config: Pick<StackConfig, "environment" | "owner">): Record<string, string> {
  return { env: config.environment, owner: config.owner, "managed-by": "pulumi" };
}
