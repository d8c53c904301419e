import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";

export interface PrivateNetworkArgs {
  project: string;
  region: string;
  network: StackConfig["network"];
}

export const PODS_RANGE = "pods";
export const SERVICES_RANGE = "services";

/** VPC with one subnet (secondary ranges for GKE pods/services) and Cloud NAT for private nodes. */
export class PrivateNetwork extends pulumi.ComponentResource {
  readonly vpc: gcp.compute.Network;
  readonly subnet: gcp.compute.Subnetwork;
  readonly proxySubnet: gcp.compute.Subnetwork;
  readonly nat: gcp.compute.RouterNat;

  constructor(name: string, args: PrivateNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:gcp:PrivateNetwork", name, {}, opts);
    const child = { parent: this };
    this.vpc = new gcp.compute.Network(name, { project: args.project, autoCreateSubnetworks: false, routingMode: "REGIONAL" }, child);
    this.subnet = new gcp.compute.Subnetwork(
      name,
      {
        project: args.project,
        region: args.region,
        network: this.vpc.id,
        ipCidrRange: args.network.subnetCidr,
        // Private nodes and Cloud Run direct egress reach Google APIs without public IPs.
        privateIpGoogleAccess: true,
        secondaryIpRanges: [
          { rangeName: PODS_RANGE, ipCidrRange: args.network.podsCidr },
          { rangeName: SERVICES_RANGE, ipCidrRange: args.network.servicesCidr },
        ],
        logConfig: { aggregationInterval: "INTERVAL_5_SEC", flowSampling: 0.5, metadata: "INCLUDE_ALL_METADATA" },
      },
      child,
    );
    // The internal Application Load Balancer behind the GKE Gateway needs a proxy-only subnet.
    this.proxySubnet = new gcp.compute.Subnetwork(
      `${name}-proxy`,
      {
        project: args.project,
        region: args.region,
        network: this.vpc.id,
        ipCidrRange: args.network.proxyCidr,
        purpose: "REGIONAL_MANAGED_PROXY",
        role: "ACTIVE",
      },
      child,
    );
    const router = new gcp.compute.Router(name, { project: args.project, region: args.region, network: this.vpc.id }, child);
    this.nat = new gcp.compute.RouterNat(
      name,
      {
        project: args.project,
        region: args.region,
        router: router.name,
        natIpAllocateOption: "AUTO_ONLY",
        sourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES",
        logConfig: { enable: true, filter: "ERRORS_ONLY" },
      },
      child,
    );
    this.registerOutputs({ vpc: this.vpc.id, subnet: this.subnet.id });
  }
}
