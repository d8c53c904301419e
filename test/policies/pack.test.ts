import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PackInfo } from "../../src/policy/analyzer";
import { loadPolicyConfig, parsePolicyConfig, PolicyConfigFileError, reconcilePolicyConfig } from "../../src/policy/packConfig";
import { PackUnderTest, resource, TYPES } from "../support/policyPack";
import { ROOT } from "../support/stacks";

let pack: PackUnderTest;
let info: PackInfo;
beforeAll(async () => {
  pack = await PackUnderTest.start();
  info = await pack.session.info();
}, 60_000);
afterAll(async () => pack?.stop());

const EXPECTED = [
  "cloud-run-image-digest",
  "cloud-run-no-public-invoker",
  "cloud-run-dedicated-service-account",
  "cloud-run-secrets-from-secret-manager",
  "cloud-run-production-scaling",
  "cloud-run-resource-limits",
  "cloud-run-private-egress-via-vpc",
  "gke-private-nodes",
  "gke-workload-identity",
  "gke-shielded-nodes",
  "gke-release-channel",
  "gke-network-policy",
  "gke-legacy-abac-off",
  "gke-no-legacy-auth",
  "gke-master-authorized-networks",
  "gke-node-auto-repair-upgrade",
  "gke-node-service-account",
  "gke-logging-monitoring",
  "gke-node-image-cos",
  "gke-vpc-native",
  "gke-intranode-visibility",
  "gke-binary-authorization",
  "gke-legacy-metadata-endpoints",
  "gke-secure-boot",
  "gke-separate-node-pools",
  "gke-no-alpha-features",
  "gke-production-multi-zone",
  "gcp-network-custom-mode",
  "gcp-subnet-flow-logs",
  "gcp-subnet-private-google-access",
  "gcp-firewall-no-public-ingress",
  "gcp-firewall-sensitive-ports",
  "gcp-firewall-narrow-ports",
  "gcp-firewall-no-public-egress",
  "gcp-iam-no-basic-roles",
  "gcp-iam-no-impersonation-roles",
  "gcp-iam-no-default-service-accounts",
  "gcp-iam-no-privileged-service-accounts",
  "gcp-iam-no-user-members",
  "gcp-audit-logging",
  "gcp-no-service-account-keys",
  "gcp-wif-provider-condition",
  "gcp-wif-github-repository",
  "artifact-registry-not-public",
  "gcp-iam-no-public-members",
  "redis-auth-enabled",
  "redis-transit-encryption",
  "k8s-pod-security-restricted",
  "k8s-resources",
  "k8s-probes",
  "k8s-read-only-root-filesystem",
  "k8s-no-latest-tag",
  "k8s-no-system-namespace",
  "k8s-namespace-network-policy",
  "k8s-pod-disruption-budget",
  "vercel-sensitive-env",
  "vercel-no-shared-secret-targets",
  "vercel-deployment-protection",
  "release-production-canary",
  "release-blue-green-smoke-tests",
  "release-auto-rollback",
  "release-watched-holds",
  "security-scan-report",
  "gcp-standard-labels",
  "environment-binding",
];
const configFile = (env: string) => join(ROOT, "policies", "config", `${env}.json`);

describe("the pack as the CLI sees it (GetAnalyzerInfo)", () => {
  it("names itself, takes its version from package.json and lists every policy, mandatory by default", () => {
    expect(info.name).toBe("progressive-delivery");
    expect(info.version).toBe("0.1.0");
    expect(info.policies.map((p) => p.name)).toEqual(EXPECTED);
    for (const p of info.policies) {
      expect(p.description.length, p.name).toBeGreaterThan(30);
      expect(p.enforcementLevel, p.name).toBe("mandatory");
      expect(p.severity, p.name).toBeGreaterThan(0);
    }
  });

  it("publishes config schemas with defaults for the configurable policies", () => {
    const gate = info.policies.find((p) => p.name === "security-scan-report")!;
    expect(gate.configSchema!.properties).toMatchObject({
      maxCritical: { type: "integer", default: 0 },
      maxHigh: { type: "integer", default: 5 },
      reports: { type: "array", default: [] },
    });
    expect(
      info.policies
        .filter((p) => p.configSchema)
        .map((p) => p.name)
        .sort(),
    ).toEqual(["cloud-run-no-public-invoker", "gcp-standard-labels", "security-scan-report"]);
  });
});

describe("levels per environment (the committed config files)", () => {
  it("has one file per stack", () => {
    expect(readdirSync(join(ROOT, "policies", "config")).sort()).toEqual(["dev.json", "production.json", "staging.json"]);
  });

  it("production: every policy mandatory; dev: advisory but environment-binding (a dev stack never deploys into another environment's project); staging: mandatory but for the listed few", () => {
    const levels = (env: string) => {
      const { config, errors } = reconcilePolicyConfig(info, loadPolicyConfig(configFile(env)), configFile(env));
      expect(errors).toEqual([]);
      return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.enforcementLevel]));
    };
    expect(new Set(Object.values(levels("production")))).toEqual(new Set(["mandatory"]));
    const dev = levels("dev");
    expect(Object.keys(dev).filter((k) => dev[k] !== "advisory")).toEqual(["environment-binding"]);
    expect(dev["environment-binding"]).toBe("mandatory");
    const staging = levels("staging");
    expect(
      Object.keys(staging)
        .filter((k) => staging[k] === "advisory")
        .sort(),
    ).toEqual(["gcp-standard-labels", "k8s-pod-disruption-budget", "k8s-read-only-root-filesystem", "vercel-deployment-protection"]);
  });

  it("the level the pack reports follows the config: the same violation is mandatory in production and advisory in dev", async () => {
    const bad = { name: "c", enableLegacyAbac: true };
    const level = async (env: string) => {
      await pack.session.configure(reconcilePolicyConfig(info, loadPolicyConfig(configFile(env))).config);
      return (await pack.session.analyze(resource(TYPES.cluster, bad))).diagnostics.find((d) => d.policyName === "gke-legacy-abac-off")!.enforcementLevel;
    };
    expect(await level("production")).toBe("mandatory");
    expect(await level("dev")).toBe("advisory");
    // Override one policy: disabled means it does not run at all.
    const { config } = reconcilePolicyConfig(info, parsePolicyConfig('{"all": "mandatory", "gke-legacy-abac-off": "disabled"}', "override.json"));
    await pack.session.configure(config);
    expect((await pack.session.analyze(resource(TYPES.cluster, bad))).diagnostics.map((d) => d.policyName)).not.toContain("gke-legacy-abac-off");
  });
});

describe("bad pack config is rejected with a clear message", () => {
  it.each([
    ['{"all": "strict"}', /bad\.json: all: "strict" is not a valid enforcement level/],
    ['{"gke-private-nodes": 3}', /bad\.json: gke-private-nodes: must be an enforcement level or an object/],
    ['{"gke-private-nodes": {"enforcementLevel": "loud"}}', /bad\.json: gke-private-nodes: "loud" is not a valid enforcement level/],
    ["[1, 2]", /bad\.json: must be a JSON object of policy names/],
    ["{ nope", /bad\.json: not valid JSON/],
  ])("file %s", (text, message) => {
    expect(() => parsePolicyConfig(text, "bad.json")).toThrow(PolicyConfigFileError);
    expect(() => parsePolicyConfig(text, "bad.json")).toThrow(message);
  });

  it.each([
    [{ "security-scan-report": { properties: { maxHigh: "five" } } }, "bad.json: security-scan-report.maxHigh: must be integer"],
    [{ "security-scan-report": { properties: { maxHigh: -1 } } }, "bad.json: security-scan-report.maxHigh: must be >= 0"],
    [{ "security-scan-report": { properties: { maxHgih: 3 } } }, "bad.json: security-scan-report: unknown key maxHgih (known: maxCritical, maxHigh, reports)"],
    [{ "gcp-standard-labels": { properties: { required: [] } } }, "bad.json: gcp-standard-labels.required: must NOT have fewer than 1 items"],
    [{ "gke-private-nodes": { properties: { strict: true } } }, "bad.json: gke-private-nodes: this policy takes no configuration"],
    [{ "gke-privat-nodes": { enforcementLevel: "advisory" as const } }, "bad.json: gke-privat-nodes: no such policy in progressive-delivery"],
  ])("schema check %#", (given, message) => {
    const { errors } = reconcilePolicyConfig(info, given, "bad.json");
    expect(errors.join("\n")).toContain(message);
  });

  it("the pack itself refuses config that skipped the CLI's check, naming the policy and key", async () => {
    await pack.session.configure({ "security-scan-report": { enforcementLevel: "mandatory", properties: { maxHigh: "five" } } });
    await expect(pack.session.analyzeStack([resource(TYPES.namespace, { metadata: { name: "x" } })])).rejects.toThrow(
      /invalid config for policy security-scan-report: security-scan-report\.maxHigh: Invalid input: expected number, received string/,
    );
  });
});
