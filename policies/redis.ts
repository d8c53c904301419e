import * as gcp from "@pulumi/gcp";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { absentOr, read } from "./lib/policy";

export const redisAuthEnabled: ResourceValidationPolicy = {
  name: "redis-auth-enabled",
  description:
    "Memorystore for Redis instances require AUTH (authEnabled: true, off by default): a client inside the network still needs the AUTH string, kept in Secret Manager.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.redis.Instance, (r, _args, report) => {
    const auth = read(() => r.authEnabled);
    if (absentOr(auth, (value) => value !== true))
      report(
        `authEnabled is ${auth.kind === "value" ? String(auth.value) : "not set (off)"}: set it to true and hand the generated authString to the clients through Secret Manager.`,
      );
  }),
};

export const redisTransitEncryption: ResourceValidationPolicy = {
  name: "redis-transit-encryption",
  description:
    "Memorystore for Redis encrypts traffic in transit (transitEncryptionMode SERVER_AUTHENTICATION, off by default): the AUTH string and the data never cross the network in clear text.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.redis.Instance, (r, _args, report) => {
    const mode = read(() => r.transitEncryptionMode);
    if (absentOr(mode, (value) => value !== "SERVER_AUTHENTICATION"))
      report(
        `transitEncryptionMode is ${mode.kind === "value" ? `"${mode.value}"` : "not set (DISABLED)"}: set it to "SERVER_AUTHENTICATION" and give the clients the instance's server CA (serverCaCerts) to verify it.`,
      );
  }),
};

export const redisPolicies = [redisAuthEnabled, redisTransitEncryption];
