import type { Policies } from "@pulumi/policy";
import { cloudRunPolicies } from "./cloudRun";
import { environmentBinding } from "./environmentBinding";
import { firewallPolicies } from "./firewall";
import { gkePolicies } from "./gke";
import { gkeHardeningPolicies } from "./gkeHardening";
import { iamPolicies } from "./iam";
import { gcpStandardLabels } from "./labels";
import { cheapNotApplicable } from "./lib/notApplicable";
import { networkPolicies } from "./network";
import { podSecurityRestricted } from "./podSecurity";
import { redisPolicies } from "./redis";
import { releasePolicies } from "./release";
import { securityScanReport } from "./securityGate";
import { vercelPolicies } from "./vercel";
import { workloadPolicies } from "./workloads";

export const PACK_NAME = "progressive-delivery";

/**
 * Every policy, at production strictness (mandatory) by default; the
 * per-environment config files in config/ relax them for dev and staging.
 */
export const policies: Policies = [
  ...cloudRunPolicies,
  ...gkePolicies,
  ...gkeHardeningPolicies,
  ...networkPolicies,
  ...firewallPolicies,
  ...iamPolicies,
  ...redisPolicies,
  podSecurityRestricted,
  ...workloadPolicies,
  ...vercelPolicies,
  ...releasePolicies,
  securityScanReport,
  gcpStandardLabels,
  environmentBinding,
].map(cheapNotApplicable);
