import { REQUIRED_APIS } from "../../src/components/projectApis";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { editedStackFile, ROOT } from "../support/stacks";
import { writeFileSync } from "node:fs";

const TSX = join(ROOT, "node_modules", ".bin", "tsx");

function plan(...args: string[]) {
  const r = spawnSync(TSX, ["src/cli/plan.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface PlanJson {
  ok: boolean;
  offline: boolean;
  environment: string;
  resources: { type: string; name: string; parent: string | null; inputs: Record<string, unknown> }[];
  outputs: Record<string, unknown>;
  summary: { total: number; byType: Record<string, number> };
}

describe("npm run plan (offline plan, as a child process)", () => {
  it.each(["dev", "staging", "production"])("evaluates %s and prints JSON for CI", (stack) => {
    // Policies have their own tests (test/policies/stacks.test.ts); here the plan itself.
    const r = plan("--stack", stack, "--json", "--no-policies");
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as PlanJson;
    expect(out.ok).toBe(true);
    expect(out.offline).toBe(true);
    expect(out.environment).toBe(stack);
    expect(out.summary.total).toBe(out.resources.length);
    expect(out.summary.byType["gcp:cloudrunv2/service:Service"]).toBe(1);
    expect(out.summary.byType["gcp:container/cluster:Cluster"]).toBe(1);
    expect(out.outputs["kubeconfig"]).toBe("[secret]");
    expect(String(out.outputs["backendUrl"])).toMatch(/^https:\/\/ws-backend-.*\.run\.app$/);
    // No secret value of any kind reaches the output: wrapped values are redacted.
    expect(r.stdout).not.toContain("4dabf18193072939515e22adb298388d");
    const cloudRun = out.resources.find((x) => x.type === "gcp:cloudrunv2/service:Service")!;
    expect(cloudRun.parent).toMatch(/WebSocketBackend::backend$/);
  });

  it("prints a readable tree, the outputs, a per-type summary and says it is offline", () => {
    const r = plan("--stack", "production", "--no-policies");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Not a diff against the cloud");
    expect(r.stdout).toMatch(/[├└]─ gcp:cloudrunv2\/service:Service {2}backend {2}\(name=ws-backend {2}revision=ws-backend-v1-8-0/);
    expect(r.stdout).toMatch(/^ {2}kubeconfig: \[secret\]$/m);
    expect(r.stdout).toMatch(/^Summary: \d+ resources of \d+ types, 7 outputs$/m);
    // One gcp.projects.Service per required API.
    expect(r.stdout).toMatch(new RegExp(`^ +${REQUIRED_APIS.length} {2}gcp:projects\\/service:Service$`, "m"));
  });

  it("runs the policy pack by default: production without a scan report exits 2 on the security gate", () => {
    const r = plan("--stack", "production");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/Running policy pack .*policies with .*production\.json/);
    expect(r.stdout).toMatch(/Policies \(progressive-delivery@0\.1\.0\): 1 mandatory, 0 advisory violation\(s\)\n {2}BLOCK {2}security-scan-report/);
    expect(r.stdout).toContain("scan report ../reports/trivy-images.json is unusable (file not found)");
  });

  it("evaluates any stack file given with --config-file", () => {
    const file = editedStackFile("staging", (c) => void ((c["progressive-delivery:backend"] as Record<string, unknown>)["maxInstances"] = 7));
    const r = plan("--stack", "staging", "--config-file", file, "--json");
    expect(r.code, r.stderr).toBe(0);
    const run = (JSON.parse(r.stdout) as PlanJson).resources.find((x) => x.type === "gcp:cloudrunv2/service:Service")!;
    expect((run.inputs["template"] as { scaling: { maxInstanceCount: number } }).scaling.maxInstanceCount).toBe(7);
  });

  it("a production release its TrafficSplit would refuse (a forecast without a verdict) fails the plan, unless allowed", () => {
    const trickle = (c: Record<string, unknown>) => void (c["progressive-delivery:release"] = { analysis: { expectedRps: 0.5 } });
    const r = plan("--stack", "production", "--no-policies", "--config-file", editedStackFile("production", trickle));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /error: release ws-backend: .*: step 1 \(5%\) needs \d+ candidate requests, about \d+ s at 0\.5 req\/s, but its limit is 1800 s.*Nothing was started/,
    );
    const allowed = plan(
      "--stack",
      "production",
      "--no-policies",
      "--json",
      "--config-file",
      editedStackFile("production", (c) => (trickle(c), (c["progressive-delivery:releaseAllowInconclusive"] = "true"))),
    );
    expect(allowed.code, allowed.stderr).toBe(0);
    expect((JSON.parse(allowed.stdout) as PlanJson).ok).toBe(true);
  });

  it("exits 1 with every config problem, naming the stack, the file and the keys", () => {
    const file = editedStackFile("production", (c) => {
      (c["progressive-delivery:backend"] as Record<string, unknown>)["maxInstances"] = "many";
      c["progressive-delivery:colour"] = "blue";
    });
    const r = plan("--stack", "production", "--config-file", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('2 configuration problems in stack "production" (Pulumi.production.yaml)');
    expect(r.stderr).toContain('progressive-delivery:backend.maxInstances: expected number (found "many")');
    expect(r.stderr).toContain("progressive-delivery:colour: unknown key");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const json = plan("--stack", "production", "--config-file", file, "--json");
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { problems: unknown[] }).problems).toHaveLength(2);
  });

  it("exits 1 with a clear message for a missing stack file, bad YAML or bad arguments", () => {
    const missing = plan("--stack", "qa");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no stack file for "qa": Pulumi.qa.yaml does not exist');
    const bad = editedStackFile("dev", () => {});
    writeFileSync(bad, "config:\n  progressive-delivery:owner: [unclosed\n");
    const yaml = plan("--stack", "dev", "--config-file", bad);
    expect(yaml.code).toBe(1);
    expect(yaml.stderr).toMatch(/Pulumi\.dev\.yaml: is not valid YAML/);
    expect(plan().stderr).toContain("--stack is required");
    expect(plan("--stack", "dev", "--frobnicate").code).toBe(1);
  });
});
