import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultPolicyConfigFile, policyVerdicts } from "../../src/plan/policies";
import { configWithCleanScans } from "../support/scans";
import { editedStackFile, evaluateCommitted, evaluateFile, ROOT } from "../support/stacks";

const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const plan = (...args: string[]) => spawnSync(TSX, ["src/cli/plan.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 90_000 });

describe("the pack over the real stacks (the program's registrations, through the analyzer protocol)", () => {
  it.each(["staging", "production"])("%s has no mandatory violation under its committed policy config, given clean scans", async (stack) => {
    const s = await evaluateCommitted(stack);
    const v = await policyVerdicts(stack, s.resources, { configFile: configWithCleanScans(stack, s.resources) });
    expect(v.pack.name).toBe("progressive-delivery");
    expect(v.violations.filter((d) => d.enforcementLevel === "mandatory").map((d) => `${d.policyName}: ${d.message}`)).toEqual([]);
  });

  it("dev has nothing to block: its config makes every policy advisory", async () => {
    const s = await evaluateCommitted("dev");
    const v = await policyVerdicts("dev", s.resources, { configFile: defaultPolicyConfigFile("dev") });
    expect(v.mandatory).toBe(0);
  });

  it("production without a scan report is blocked by the security gate, and only by it", async () => {
    const s = await evaluateCommitted("production");
    const v = await policyVerdicts("production", s.resources, { configFile: defaultPolicyConfigFile("production") });
    expect(v.violations.map((d) => [d.policyName, d.enforcementLevel])).toEqual([["security-scan-report", "mandatory"]]);
  });

  it("a misconfigured production stack file is blocked with the expected policy names (offline plan exits 2)", async () => {
    const file = editedStackFile("production", (c) => {
      // autoRollback off needs an approval source to be valid config; the pack still refuses it in production.
      c["progressive-delivery:release"] = {
        steps: [25, 50, 100],
        autoRollback: false,
        approval: { source: "file", path: "approvals/production.json", timeoutSeconds: 600 },
      };
      (c["progressive-delivery:cluster"] as { authorizedNetworks: unknown[] }).authorizedNetworks.push({ name: "anywhere", cidr: "0.0.0.0/0" });
    });
    const s = await evaluateFile("production", file);
    const r = plan("--stack", "production", "--config-file", file, "--policy-pack-config", configWithCleanScans("production", s.resources), "--json");
    expect(r.status, r.stderr).toBe(2);
    const out = JSON.parse(r.stdout) as { policies: { mandatory: number; violations: { policyName: string; enforcementLevel: string; urn: string }[] } };
    expect(out.policies.violations.map((v) => v.policyName).sort()).toEqual([
      "gke-master-authorized-networks",
      "release-auto-rollback",
      "release-production-canary",
    ]);
    expect(out.policies.violations.every((v) => v.enforcementLevel === "mandatory")).toBe(true);
    expect(out.policies.violations.find((v) => v.policyName === "gke-master-authorized-networks")!.urn).toMatch(/gcp:container\/cluster:Cluster::/);

    const text = plan("--stack", "production", "--config-file", file, "--policy-pack-config", configWithCleanScans("production", s.resources));
    expect(text.status).toBe(2);
    expect(text.stdout).toMatch(/Policies \(progressive-delivery@0\.1\.0\): 3 mandatory, 0 advisory violation\(s\)/);
    expect(text.stdout).toContain("BLOCK  release-production-canary");
    expect(text.stdout).toContain("the first canary step sends 25% of traffic");
  });

  it("the same misconfiguration in dev only warns (exit 0)", async () => {
    const file = editedStackFile("dev", (c) => {
      (c["progressive-delivery:cluster"] as { authorizedNetworks?: unknown[] }).authorizedNetworks = [{ name: "anywhere", cidr: "0.0.0.0/0" }];
    });
    const r = plan("--stack", "dev", "--config-file", file, "--json");
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { policies: { mandatory: number; advisory: number; violations: { policyName: string }[] } };
    expect(out.policies.mandatory).toBe(0);
    expect(out.policies.violations.map((v) => v.policyName)).toContain("gke-master-authorized-networks");
  });
});
