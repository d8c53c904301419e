import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNKNOWN } from "../../src/policy/analyzer";
import { of, PackUnderTest, TYPES } from "../support/policyPack";

let pack: PackUnderTest;
beforeAll(async () => {
  pack = await PackUnderTest.start();
}, 60_000);
afterAll(async () => pack?.stop());

const T = {
  subnet: "gcp:compute/subnetwork:Subnetwork",
  network: TYPES.network,
  firewall: "gcp:compute/firewall:Firewall",
} as const;

const details = async (type: string, props: Record<string, unknown>, policy: string) => of(await pack.analyze(type, props), policy).map((d) => d.detail);
const policiesHit = async (type: string, props: Record<string, unknown>) => (await pack.analyze(type, props)).diagnostics.map((d) => d.policyName).sort();

/** The stack's main subnet, as the program declares it. */
function subnet(edit: (s: Record<string, any>) => void = () => {}): Record<string, unknown> {
  const s: Record<string, any> = {
    network: "vpc",
    region: "europe-west1",
    ipCidrRange: "10.20.0.0/20",
    privateIpGoogleAccess: true,
    secondaryIpRanges: [{ rangeName: "pods", ipCidrRange: "10.24.0.0/14" }],
    logConfig: { aggregationInterval: "INTERVAL_5_SEC", flowSampling: 0.5, metadata: "INCLUDE_ALL_METADATA" },
  };
  edit(s);
  return s;
}

describe("networks and subnetworks", () => {
  it("a custom-mode network, a logged subnet with Private Google Access and a proxy-only subnet pass every policy", async () => {
    expect((await pack.analyze(T.network, { autoCreateSubnetworks: false, routingMode: "REGIONAL" })).diagnostics).toEqual([]);
    expect((await pack.analyze(T.subnet, subnet())).diagnostics).toEqual([]);
    // Proxy-only subnets take neither flow logs nor Private Google Access: exempt.
    expect(
      (await pack.analyze(T.subnet, { network: "vpc", region: "europe-west1", ipCidrRange: "10.30.0.0/23", purpose: "REGIONAL_MANAGED_PROXY", role: "ACTIVE" }))
        .diagnostics,
    ).toEqual([]);
  });

  it.each<[string, string, Record<string, unknown>, string]>([
    ["gcp-network-custom-mode", T.network, { routingMode: "REGIONAL" }, "autoCreateSubnetworks is not set (the provider's default is true)"],
    ["gcp-network-custom-mode", T.network, { autoCreateSubnetworks: true }, "autoCreateSubnetworks is true"],
    ["gcp-subnet-flow-logs", T.subnet, subnet((s) => delete s.logConfig), "logConfig is not set, so the subnet keeps no VPC Flow Logs"],
    ["gcp-subnet-flow-logs", T.subnet, subnet((s) => (s.logConfig.flowSampling = 0)), "logConfig.flowSampling is 0"],
    ["gcp-subnet-flow-logs", T.subnet, subnet((s) => ((s.purpose = "PRIVATE"), delete s.logConfig)), "logConfig is not set"],
    ["gcp-subnet-private-google-access", T.subnet, subnet((s) => delete s.privateIpGoogleAccess), "privateIpGoogleAccess is not set (off)"],
    ["gcp-subnet-private-google-access", T.subnet, subnet((s) => (s.privateIpGoogleAccess = false)), "privateIpGoogleAccess is false"],
    [
      "gcp-subnet-private-google-access",
      T.subnet,
      subnet((s) => (s.stackType = "IPV4_IPV6")),
      "the subnet is IPV4_IPV6 but privateIpv6GoogleAccess is not set",
    ],
    [
      "gcp-subnet-private-google-access",
      T.subnet,
      subnet((s) => ((s.stackType = "IPV4_IPV6"), (s.privateIpv6GoogleAccess = "DISABLE_GOOGLE_ACCESS"))),
      'privateIpv6GoogleAccess is "DISABLE_GOOGLE_ACCESS"',
    ],
  ])("%s fails (%#)", async (policy, type, props, message) => {
    const d = await details(type, props, policy);
    expect(d).toHaveLength(1);
    expect(d[0]).toContain(message);
  });

  it("dual-stack subnets with IPv6 Google access pass; every proxy-only purpose is exempt; computed values wait for the update", async () => {
    expect(
      (
        await pack.analyze(
          T.subnet,
          subnet((s) => ((s.stackType = "IPV4_IPV6"), (s.privateIpv6GoogleAccess = "ENABLE_OUTBOUND_VM_ACCESS_TO_GOOGLE"))),
        )
      ).diagnostics,
    ).toEqual([]);
    for (const purpose of ["REGIONAL_MANAGED_PROXY", "GLOBAL_MANAGED_PROXY", "INTERNAL_HTTPS_LOAD_BALANCER"]) {
      expect((await pack.analyze(T.subnet, { network: "vpc", ipCidrRange: "10.30.0.0/23", purpose })).diagnostics).toEqual([]);
    }
    expect(
      (
        await pack.analyze(
          T.subnet,
          subnet((s) => ((s.purpose = UNKNOWN), delete s.logConfig, delete s.privateIpGoogleAccess)),
        )
      ).diagnostics,
    ).toEqual([]);
    expect((await pack.analyze(T.network, { autoCreateSubnetworks: UNKNOWN })).diagnostics).toEqual([]);
  });
});

/** A rule that passes every firewall policy: HTTPS from the load balancer's proxy subnet and Google's health checks. */
function rule(edit: (r: Record<string, any>) => void = () => {}): Record<string, unknown> {
  const r: Record<string, any> = {
    network: "vpc",
    direction: "INGRESS",
    allows: [{ protocol: "tcp", ports: ["443", "8080-8081"] }],
    sourceRanges: ["10.30.0.0/23", "35.191.0.0/16", "130.211.0.0/22"],
    targetTags: ["gke-agents"],
  };
  edit(r);
  return r;
}

describe("firewall rules", () => {
  it("a rule with named ports from named ranges passes every policy; so does a narrow egress rule", async () => {
    expect((await pack.analyze(T.firewall, rule())).diagnostics).toEqual([]);
    expect(
      (
        await pack.analyze(T.firewall, {
          network: "vpc",
          direction: "EGRESS",
          allows: [{ protocol: "tcp", ports: ["443"] }],
          destinationRanges: ["199.36.153.8/30"],
        })
      ).diagnostics,
    ).toEqual([]);
    // A wide deny rule is the point of a deny rule.
    expect(
      (await pack.analyze(T.firewall, { network: "vpc", direction: "INGRESS", denies: [{ protocol: "all" }], sourceRanges: ["0.0.0.0/0"], priority: 65000 }))
        .diagnostics,
    ).toEqual([]);
  });

  it.each<[string, (r: Record<string, any>) => void, string]>([
    ["gcp-firewall-no-public-ingress", (r) => (r.sourceRanges = ["0.0.0.0/0"]), "the rule allows tcp 443,8080-8081 from 0.0.0.0/0"],
    ["gcp-firewall-no-public-ingress", (r) => (r.sourceRanges = ["::/0"]), "from ::/0"],
    ["gcp-firewall-no-public-ingress", (r) => (r.sourceRanges = ["0.0.0.0/1", "128.0.0.0/1"]), "from 0.0.0.0/1, 128.0.0.0/1"],
    ["gcp-firewall-no-public-ingress", (r) => (r.sourceRanges = ["2000::/3"]), "from 2000::/3"],
    ["gcp-firewall-no-public-ingress", (r) => delete r.sourceRanges, "from (no source: 0.0.0.0/0)"],
    ["gcp-firewall-no-public-ingress", (r) => (r.sourceRanges = ["10.128.0.0/9"]), "the default network's default-allow-internal range"],
    ["gcp-firewall-narrow-ports", (r) => (r.allows = [{ protocol: "all" }]), "the ingress rule allows every port (all protocols)"],
    ["gcp-firewall-narrow-ports", (r) => (r.allows = [{ protocol: "udp" }]), "allows every port (udp (all ports))"],
    ["gcp-firewall-narrow-ports", (r) => (r.allows = [{ protocol: "tcp", ports: ["0-65535"] }]), "allows every port (tcp 0-65535)"],
    ["gcp-firewall-narrow-ports", (r) => (r.allows = [{ protocol: "tcp", ports: ["8000-8100"] }]), "opens port range(s) tcp 8000-8100, wider than 30 ports"],
  ])("%s fails (%#)", async (policy, edit, message) => {
    const d = await details(T.firewall, rule(edit), policy);
    expect(d).toHaveLength(1);
    expect(d[0]).toContain(message);
  });

  it.each<[string, number, string]>([
    ["20", 20, "FTP data"],
    ["21", 21, "FTP"],
    ["22", 22, "SSH"],
    ["23", 23, "Telnet"],
    ["80", 80, "HTTP"],
    ["1521", 1521, "Oracle"],
    ["3306", 3306, "MySQL"],
    ["3389", 3389, "RDP"],
    ["5432", 5432, "PostgreSQL"],
    ["27017", 27017, "MongoDB"],
  ])("gcp-firewall-sensitive-ports: port %s open to the internet fails, to a named range passes", async (ports, port, name) => {
    const open = rule((r) => ((r.allows = [{ protocol: "tcp", ports: [ports] }]), (r.sourceRanges = ["0.0.0.0/0"])));
    expect(await details(T.firewall, open, "gcp-firewall-sensitive-ports")).toEqual([expect.stringContaining(`the rule opens ${port} (${name}) to 0.0.0.0/0`)]);
    expect(
      await details(
        T.firewall,
        rule((r) => (r.allows = [{ protocol: "tcp", ports: [ports] }])),
        "gcp-firewall-sensitive-ports",
      ),
    ).toEqual([]);
  });

  it("gcp-firewall-sensitive-ports: a range, every port, ::/0 and a rule with no source count; HTTPS alone, disabled rules and egress do not", async () => {
    const hit = async (edit: (r: Record<string, any>) => void) => details(T.firewall, rule(edit), "gcp-firewall-sensitive-ports");
    expect(await hit((r) => ((r.allows = [{ protocol: "tcp", ports: ["3300-3310"] }]), (r.sourceRanges = ["::/0"])))).toEqual([
      expect.stringContaining("the rule opens 3306 (MySQL) to ::/0"),
    ]);
    expect(await hit((r) => ((r.allows = [{ protocol: "all" }]), (r.sourceRanges = ["0.0.0.0/0"])))).toEqual([
      expect.stringContaining("the rule allows every port (all protocols) from 0.0.0.0/0"),
    ]);
    expect(await hit((r) => ((r.allows = [{ protocol: "tcp", ports: ["22"] }]), delete r.sourceRanges))).toEqual([
      expect.stringContaining("the rule opens 22 (SSH) to (no source: 0.0.0.0/0)"),
    ]);
    expect(await hit((r) => (r.sourceRanges = ["0.0.0.0/0"]))).toEqual([]);
    expect(await hit((r) => ((r.allows = [{ protocol: "tcp", ports: ["22"] }]), (r.sourceRanges = ["0.0.0.0/0"]), (r.disabled = true)))).toEqual([]);
    expect(await hit((r) => ((r.allows = [{ protocol: "tcp", ports: ["22"] }]), (r.sourceRanges = ["0.0.0.0/0"]), (r.direction = "EGRESS")))).toEqual([]);
    // Source tags alone: only tagged instances, not the internet.
    expect(await hit((r) => ((r.allows = [{ protocol: "tcp", ports: ["22"] }]), delete r.sourceRanges, (r.sourceTags = ["bastion"])))).toEqual([]);
  });

  it("gcp-firewall-no-public-egress: an egress allow rule to 0.0.0.0/0, or with no destination, fails", async () => {
    const egress = (destinationRanges?: string[]) => ({
      network: "vpc",
      direction: "EGRESS",
      allows: [{ protocol: "tcp", ports: ["443"] }],
      ...(destinationRanges ? { destinationRanges } : {}),
    });
    expect(await details(T.firewall, egress(["0.0.0.0/0"]), "gcp-firewall-no-public-egress")).toEqual([
      expect.stringContaining("the egress rule allows tcp 443 to 0.0.0.0/0"),
    ]);
    expect(await details(T.firewall, egress(), "gcp-firewall-no-public-egress")).toEqual([expect.stringContaining("to (no destination: 0.0.0.0/0)")]);
    expect(await details(T.firewall, egress(["199.36.153.8/30"]), "gcp-firewall-no-public-egress")).toEqual([]);
    // Every port in either direction is gcp-firewall-narrow-ports' concern.
    expect(
      await details(
        T.firewall,
        { network: "vpc", direction: "EGRESS", allows: [{ protocol: "all" }], destinationRanges: ["10.0.0.0/8"] },
        "gcp-firewall-narrow-ports",
      ),
    ).toEqual([expect.stringContaining("the egress rule allows every port")]);
  });

  it("one open SSH rule trips the ingress, the port and no other policy; computed sources wait for the update", async () => {
    expect(
      await policiesHit(
        T.firewall,
        rule((r) => ((r.allows = [{ protocol: "tcp", ports: ["22"] }]), (r.sourceRanges = ["0.0.0.0/0"]))),
      ),
    ).toEqual(["gcp-firewall-no-public-ingress", "gcp-firewall-sensitive-ports"]);
    expect(
      (
        await pack.analyze(
          T.firewall,
          rule((r) => ((r.allows = [{ protocol: "tcp", ports: ["22"] }]), (r.sourceRanges = UNKNOWN))),
        )
      ).diagnostics,
    ).toEqual([]);
    expect(
      (
        await pack.analyze(
          T.firewall,
          rule((r) => ((r.allows = [{ protocol: "tcp", ports: ["22"] }]), (r.sourceRanges = ["0.0.0.0/0"]), (r.disabled = UNKNOWN))),
        )
      ).diagnostics,
    ).toEqual([]);
  });
});
