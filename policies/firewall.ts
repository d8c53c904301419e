import * as gcp from "@pulumi/gcp";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { known, read } from "./lib/policy";
import { isInternetWide } from "../src/config/addressRanges";
import { knownElements, knownList } from "./lib/values";

/**
 * VPC firewall rules (gcp.compute.Firewall). The stacks declare none today
 * (a custom-mode VPC starts with only the implied deny-ingress and
 * allow-egress rules; GKE manages its own), so these policies guard the
 * first rule anyone adds: what Checkov and Trivy check on
 * google_compute_firewall, one policy per kind of finding.
 */
type FirewallProps = Parameters<Parameters<typeof validateResourceOfType<gcp.compute.Firewall, gcp.compute.FirewallArgs>>[1]>[0];

/** Ports the scanners single out (Checkov CKV_GCP_2/3/75/77/88/106, CKV2_GCP_21-24; Trivy 0070/0071). */
export const SENSITIVE_PORTS: Readonly<Record<number, string>> = {
  20: "FTP data",
  21: "FTP",
  22: "SSH",
  23: "Telnet",
  80: "HTTP",
  1521: "Oracle",
  3306: "MySQL",
  3389: "RDP",
  5432: "PostgreSQL",
  27017: "MongoDB",
};
/** Widest port range an ingress allow rule may open (Trivy AVD-GCP-0074's default). */
export const MAX_PORT_RANGE = 30;
/** The auto-mode default network's range, which its default-allow-internal rule opens. */
const DEFAULT_INTERNAL_RANGE = "10.128.0.0/9";

const ALL_PROTOCOLS = ["all", "-1"];
/** Protocols with ports (names and IANA numbers): without `ports` they allow every port. */
const PORT_PROTOCOLS = ["tcp", "udp", "sctp", "6", "17", "132"];

interface Rule {
  protocol: string;
  /** undefined: no ports listed (every port, for protocols that have ports). */
  ranges: { from: number; to: number; text: string }[] | undefined;
}

function parsePorts(ports: string[]): { from: number; to: number; text: string }[] {
  return ports.flatMap((text) => {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(text);
    return m ? [{ from: Number(m[1]), to: Number(m[2] ?? m[1]), text: text.trim() }] : [];
  });
}

/** The allow (or deny) entries of a rule that are fully known. */
function rulesOf(list: () => { protocol: string; ports?: string[] }[] | undefined): Rule[] {
  return knownElements(known(list)).flatMap((r) => {
    const protocol = known(() => r.protocol);
    const ports = read(() => r.ports);
    if (typeof protocol !== "string" || ports.kind === "unknown") return [];
    const listed = ports.kind === "value" ? knownElements(ports.value) : [];
    if (ports.kind === "value" && listed.length < ports.value.length) return []; // some ports computed: checked at update time
    return [{ protocol: protocol.toLowerCase(), ranges: listed.length ? parsePorts(listed) : undefined }];
  });
}

const coversAllPorts = (r: Rule): boolean =>
  ALL_PROTOCOLS.includes(r.protocol) || (PORT_PROTOCOLS.includes(r.protocol) && (r.ranges === undefined || r.ranges.some((x) => x.from <= 1 && x.to >= 65535)));

const reaches = (r: Rule, port: number): boolean =>
  ALL_PROTOCOLS.includes(r.protocol) ||
  (PORT_PROTOCOLS.includes(r.protocol) && (r.ranges === undefined || r.ranges.some((x) => x.from <= port && port <= x.to)));

const describe = (r: Rule) =>
  ALL_PROTOCOLS.includes(r.protocol) ? "all protocols" : `${r.protocol}${r.ranges ? ` ${r.ranges.map((x) => x.text).join(",")}` : " (all ports)"}`;

/** The rule's direction and whether it is in force; undefined while either is computed. */
function stateOf(f: FirewallProps): { direction: "INGRESS" | "EGRESS"; enabled: boolean } | undefined {
  const direction = read(() => f.direction);
  const disabled = read(() => f.disabled);
  if (direction.kind === "unknown" || disabled.kind === "unknown") return undefined;
  return {
    direction: direction.kind === "value" && direction.value.toUpperCase() === "EGRESS" ? "EGRESS" : "INGRESS",
    enabled: !(disabled.kind === "value" && disabled.value === true),
  };
}

/**
 * The sources of an ingress rule that mean "anywhere". With no source
 * ranges, tags or service accounts at all, GCP applies the rule to
 * 0.0.0.0/0. Undefined while the sources are computed.
 */
function openSources(f: FirewallProps): string[] | undefined {
  const ranges = knownList(() => f.sourceRanges);
  const tags = knownList(() => f.sourceTags);
  const accounts = knownList(() => f.sourceServiceAccounts);
  if (ranges === undefined || tags === undefined || accounts === undefined) return undefined;
  const declared = [() => f.sourceRanges, () => f.sourceTags, () => f.sourceServiceAccounts].reduce((n, list) => {
    const r = read(list);
    return n + (r.kind === "absent" ? 0 : r.kind === "unknown" ? 1 : r.value.length);
  }, 0);
  if (declared === 0) return ["(no source: 0.0.0.0/0)"];
  return ranges.filter(isInternetWide);
}

function firewallPolicy(
  p: Omit<ResourceValidationPolicy, "validateResource" | "enforcementLevel">,
  check: (f: FirewallProps, state: { direction: "INGRESS" | "EGRESS" }, report: (m: string) => void) => void,
): ResourceValidationPolicy {
  return {
    ...p,
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(gcp.compute.Firewall, (f, _args, report) => {
      const state = stateOf(f);
      if (!state || !state.enabled) return;
      check(f, state, report);
    }),
  };
}

export const gcpFirewallNoPublicIngress = firewallPolicy(
  {
    name: "gcp-firewall-no-public-ingress",
    description:
      "No enabled ingress allow rule admits the whole internet (0.0.0.0/0, ::/0, or no source at all) on any port, and none copies the default network's allow-internal rule (10.128.0.0/9): public traffic enters through load balancers, whose proxy and health-check ranges are named.",
    severity: "critical",
  },
  (f, state, report) => {
    if (state.direction !== "INGRESS" || rulesOf(() => f.allows).length === 0) return;
    const open = openSources(f);
    if (open?.length)
      report(
        `the rule allows ${rulesOf(() => f.allows)
          .map(describe)
          .join(
            "; ",
          )} from ${open.join(", ")}: list the source ranges that need it (a load balancer's proxy-only subnet, Google's health-check ranges 35.191.0.0/16 and 130.211.0.0/22, your offices), or use IAP (35.235.240.0/20) for administration.`,
      );
    if (knownList(() => f.sourceRanges)?.includes(DEFAULT_INTERNAL_RANGE))
      report(
        `sourceRanges includes ${DEFAULT_INTERNAL_RANGE}, the default network's default-allow-internal range: name the subnets that must talk to each other instead.`,
      );
  },
);

export const gcpFirewallSensitivePorts = firewallPolicy(
  {
    name: "gcp-firewall-sensitive-ports",
    description:
      "No enabled ingress allow rule opens an administration, database or clear-text port (20, 21, 22, 23, 80, 1521, 3306, 3389, 5432, 27017), or every port, to the whole internet (0.0.0.0/0, ::/0, or no source).",
    severity: "critical",
  },
  (f, state, report) => {
    if (state.direction !== "INGRESS") return;
    const rules = rulesOf(() => f.allows);
    if (rules.length === 0) return;
    const open = openSources(f);
    if (!open?.length) return;
    if (rules.some(coversAllPorts)) {
      report(
        `the rule allows every port (${rules.filter(coversAllPorts).map(describe).join("; ")}) from ${open.join(", ")}: open only the ports a service needs, to the ranges that need them.`,
      );
      return;
    }
    const hit = Object.entries(SENSITIVE_PORTS).filter(([port]) => rules.some((r) => reaches(r, Number(port))));
    if (hit.length)
      report(
        `the rule opens ${hit.map(([port, name]) => `${port} (${name})`).join(", ")} to ${open.join(", ")}: reach administration ports through IAP TCP forwarding (source 35.235.240.0/20) or a bastion, databases through private IPs, and web traffic through a load balancer (HTTPS).`,
      );
  },
);

export const gcpFirewallNarrowPorts = firewallPolicy(
  {
    name: "gcp-firewall-narrow-ports",
    description: `Enabled allow rules name their ports: none allows every port (protocol all, tcp/udp without ports, 0-65535) in either direction, and no ingress range spans more than ${MAX_PORT_RANGE} ports.`,
    severity: "medium",
  },
  (f, state, report) => {
    const rules = rulesOf(() => f.allows);
    const all = rules.filter(coversAllPorts);
    if (all.length)
      report(`the ${state.direction.toLowerCase()} rule allows every port (${all.map(describe).join("; ")}): list the protocols and ports the traffic uses.`);
    if (state.direction !== "INGRESS") return;
    const wide = rules
      .filter((r) => !coversAllPorts(r))
      .flatMap((r) => (r.ranges ?? []).filter((x) => x.to - x.from > MAX_PORT_RANGE).map((x) => `${r.protocol} ${x.text}`));
    if (wide.length) report(`the rule opens port range(s) ${wide.join(", ")}, wider than ${MAX_PORT_RANGE} ports: list the ports the service listens on.`);
  },
);

export const gcpFirewallNoPublicEgress = firewallPolicy(
  {
    name: "gcp-firewall-no-public-egress",
    description:
      "No enabled egress allow rule allows traffic to the whole internet (destinationRanges 0.0.0.0/0, ::/0, or none, which means 0.0.0.0/0): explicit egress rules name their destinations.",
    severity: "high",
  },
  (f, state, report) => {
    if (state.direction !== "EGRESS" || rulesOf(() => f.allows).length === 0) return;
    const destinations = read(() => f.destinationRanges);
    if (destinations.kind === "unknown") return;
    const open = destinations.kind === "absent" ? ["(no destination: 0.0.0.0/0)"] : knownElements(destinations.value).filter(isInternetWide);
    if (open.length)
      report(
        `the egress rule allows ${rulesOf(() => f.allows)
          .map(describe)
          .join(
            "; ",
          )} to ${open.join(", ")}: name the destination ranges (Google APIs' private.googleapis.com 199.36.153.8/30, your partners), and let a lower-priority deny rule close the rest.`,
      );
  },
);

export const firewallPolicies = [gcpFirewallNoPublicIngress, gcpFirewallSensitivePorts, gcpFirewallNarrowPorts, gcpFirewallNoPublicEgress];
