import * as gcp from "@pulumi/gcp";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { absentOr, known, read } from "./lib/policy";

/**
 * Subnetwork purposes whose addresses belong to Google-managed proxies
 * (Envoy-based load balancers), not to VMs: they take neither flow logs
 * nor Private Google Access. The scanners exempt them too (Trivy the
 * managed-proxy purposes, Checkov the older INTERNAL_HTTPS_LOAD_BALANCER).
 */
export const PROXY_ONLY_PURPOSES: readonly string[] = ["REGIONAL_MANAGED_PROXY", "GLOBAL_MANAGED_PROXY", "INTERNAL_HTTPS_LOAD_BALANCER"];

type SubnetProps = Parameters<Parameters<typeof validateResourceOfType<gcp.compute.Subnetwork, gcp.compute.SubnetworkArgs>>[1]>[0];

/** True for a proxy-only subnet, undefined while its purpose is computed. */
function proxyOnly(s: SubnetProps): boolean | undefined {
  const purpose = read(() => s.purpose);
  if (purpose.kind === "unknown") return undefined;
  return purpose.kind === "value" && PROXY_ONLY_PURPOSES.includes(purpose.value);
}

export const gcpSubnetFlowLogs: ResourceValidationPolicy = {
  name: "gcp-subnet-flow-logs",
  description:
    "Every subnetwork that holds VMs, nodes or pods has VPC Flow Logs (logConfig, with a flow sampling above 0); proxy-only subnets (REGIONAL_MANAGED_PROXY, GLOBAL_MANAGED_PROXY, INTERNAL_HTTPS_LOAD_BALANCER) cannot and are exempt.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.compute.Subnetwork, (s, _args, report) => {
    if (proxyOnly(s) !== false) return;
    const log = read(() => s.logConfig);
    if (log.kind === "absent") {
      report(
        'logConfig is not set, so the subnet keeps no VPC Flow Logs: add logConfig { aggregationInterval: "INTERVAL_5_SEC", flowSampling: 0.5, metadata: "INCLUDE_ALL_METADATA" }.',
      );
      return;
    }
    if (known(() => s.logConfig?.flowSampling) === 0) report("logConfig.flowSampling is 0, so no flow is logged: sample at least a fraction (e.g. 0.5).");
  }),
};

const IPV6_GOOGLE_ACCESS = ["ENABLE_OUTBOUND_VM_ACCESS_TO_GOOGLE", "ENABLE_BIDIRECTIONAL_ACCESS_TO_GOOGLE"];

export const gcpSubnetPrivateGoogleAccess: ResourceValidationPolicy = {
  name: "gcp-subnet-private-google-access",
  description:
    "Subnetworks reach Google APIs without public IPs: privateIpGoogleAccess is true, and a dual-stack subnet also sets privateIpv6GoogleAccess (outbound or bidirectional); proxy-only subnets are exempt.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.compute.Subnetwork, (s, _args, report) => {
    if (proxyOnly(s) !== false) return;
    const v4 = read(() => s.privateIpGoogleAccess);
    if (absentOr(v4, (value) => value !== true))
      report(
        `privateIpGoogleAccess is ${v4.kind === "value" ? String(v4.value) : "not set (off)"}: set it to true, so nodes and VMs without external IPs reach Google APIs (Artifact Registry, Secret Manager, logging).`,
      );
    const stack = known(() => s.stackType);
    if (stack === "IPV4_IPV6" || stack === "IPV6_ONLY") {
      const v6 = read(() => s.privateIpv6GoogleAccess);
      if (absentOr(v6, (value) => !IPV6_GOOGLE_ACCESS.includes(value)))
        report(
          `the subnet is ${stack} but privateIpv6GoogleAccess is ${v6.kind === "value" ? `"${v6.value}"` : "not set"}: set it to "ENABLE_OUTBOUND_VM_ACCESS_TO_GOOGLE".`,
        );
    }
  }),
};

export const gcpNetworkCustomMode: ResourceValidationPolicy = {
  name: "gcp-network-custom-mode",
  description:
    "VPC networks are custom-mode (autoCreateSubnetworks: false, which the provider defaults to true): no auto-created subnet in every region from 10.128.0.0/9, only the subnets the stack declares.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: validateResourceOfType(gcp.compute.Network, (n, _args, report) => {
    const auto = read(() => n.autoCreateSubnetworks);
    if (absentOr(auto, (value) => value !== false))
      report(
        `autoCreateSubnetworks is ${auto.kind === "value" ? String(auto.value) : "not set (the provider's default is true)"}: an auto-mode network gets a subnet in every region from 10.128.0.0/9. Set autoCreateSubnetworks: false and declare the subnets you need.`,
      );
  }),
};

export const networkPolicies = [gcpNetworkCustomMode, gcpSubnetFlowLogs, gcpSubnetPrivateGoogleAccess];
