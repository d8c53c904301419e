import type { Policies } from "@pulumi/policy";
import { cloudRunPolicies } from "./cloudRun";
import { environmentBinding } from "./environmentBinding";
import { gkePolicies } from "./gke";
import { gcpStandardLabels } from "./labels";
import { cheapNotApplicable } from "./lib/notApplicable";
import { podSecurityRestricted } from "./podSecurity";
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
  podSecurityRestricted,
  ...workloadPolicies,
  ...vercelPolicies,
  ...releasePolicies,
  securityScanReport,
  gcpStandardLabels,
  environmentBinding,
].map(cheapNotApplicable);
