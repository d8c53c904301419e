import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { goTool } from "./support/goTools";
import { ROOT } from "./support/stacks";

const DIR = join(ROOT, ".github", "workflows");
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml"));
const text = (f: string) => readFileSync(join(DIR, f), "utf8");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  id?: string;
  if?: string;
  name?: string;
  "timeout-minutes"?: number;
}
interface Job {
  uses?: string;
  steps?: Step[];
  "timeout-minutes"?: number;
  permissions?: Record<string, string>;
  concurrency?: { group: string };
  environment?: unknown;
}
interface Workflow {
  on: unknown;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}
const workflows = Object.fromEntries(files.map((f) => [f, parse(text(f)) as Workflow]));
const allSteps = () =>
  Object.entries(workflows).flatMap(([f, w]) => Object.entries(w.jobs).flatMap(([j, job]) => (job.steps ?? []).map((s) => ({ where: `${f}:${j}`, step: s }))));

let actionlint: string;
beforeAll(() => {
  actionlint = goTool("actionlint");
}, 300_000);

describe("GitHub workflows", () => {
  it("has the delivery workflows", () => {
    expect(files.sort()).toEqual(["deploy.yml", "production.yml", "pull-request.yml", "pulumi-up.yml", "rollback.yml", "scan-images.yml"]);
  });

  it("pass actionlint (built from its Go module) with its ShellCheck checks on", () => {
    // ShellCheck from Debian's package (scripts/ensure-system-deps.sh): without it actionlint skips the scripts silently.
    const shellcheck = spawnSync("sh", ["-c", "command -v shellcheck"], { encoding: "utf8" }).stdout.trim();
    expect(shellcheck, "shellcheck on PATH").not.toBe("");
    const r = spawnSync(actionlint, ["-no-color", "-shellcheck", shellcheck], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
    // ShellCheck really runs: an unquoted command substitution in a run script is reported.
    const unquoted = spawnSync(actionlint, ["-no-color", "-shellcheck", shellcheck, "-"], {
      cwd: ROOT,
      encoding: "utf8",
      input: "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: ls $(pwd)\n",
    });
    expect(unquoted.stdout).toContain("SC2046");
    // And actionlint does fail on a broken workflow, so the check above means something.
    const bad = spawnSync(actionlint, ["-no-color", "-"], {
      cwd: ROOT,
      encoding: "utf8",
      input: "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n",
    });
    expect(bad.status).not.toBe(0);
  });

  it("only call npm scripts that exist in package.json", () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);
    const called = allSteps().flatMap(({ where, step }) =>
      [...(step.run ?? "").matchAll(/npm run(?:-script)?(?: --silent)? ([\w:-]+)/g)].map((m) => ({ where, script: m[1]! })),
    );
    expect(new Set(called.map((c) => c.script))).toEqual(new Set(["plan", "rollback", "rollout"]));
    expect(called.length).toBe(5);
    expect(called.filter((c) => c.script === "rollback").map((c) => c.where)).toEqual([expect.stringMatching(/^rollback\.yml/)]);
    for (const { where, script } of called) expect(scripts, `${where} runs npm run ${script}`).toContain(script);
    const builtins = allSteps().flatMap(({ step }) => [...(step.run ?? "").matchAll(/^\s*npm (\w+)/gm)].map((m) => m[1]!));
    for (const b of builtins) expect(["ci", "test", "run", "audit", "sbom"]).toContain(b);
    expect(builtins).toContain("test");
  });

  it("pin every action to a full commit SHA with its version beside it", () => {
    const uses = Object.keys(workflows).flatMap((f) => [...text(f).matchAll(/uses: ([^\s#]+)(?: # (\S+))?/g)].map((m) => ({ f, ref: m[1]!, version: m[2] })));
    expect(uses.length).toBeGreaterThan(10);
    for (const u of uses) {
      if (u.ref.startsWith("./")) continue; // this repository's reusable workflows
      expect(u.ref, u.f).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
      expect(u.version, `${u.f}: ${u.ref}`).toMatch(/^v\d+\.\d+\.\d+$/);
    }
  });

  it("least privilege: read-only by default, id-token only where GCP is used, no long-lived keys", () => {
    for (const [f, w] of Object.entries(workflows)) {
      expect(w.permissions, f).toBeDefined();
      expect(Object.values(w.permissions!).filter((v) => v === "write").length, `${f} grants write at the top`).toBe(
        f === "pulumi-up.yml" || f === "scan-images.yml" ? 1 : 0,
      );
      for (const [j, job] of Object.entries(w.jobs)) {
        const usesGcp = (job.steps ?? []).some((s) => s.uses?.startsWith("google-github-actions/auth@"));
        const idToken = (job.permissions ?? w.permissions!)["id-token"];
        if (usesGcp) expect(idToken, `${f}:${j}`).toBe("write");
        if (!usesGcp && !job.uses && job.permissions) expect(idToken, `${f}:${j}`).toBeUndefined();
      }
      expect(text(f)).not.toMatch(/credentials_json|GOOGLE_APPLICATION_CREDENTIALS|service_account_key/);
    }
  });

  it("every job has a timeout; updates are serialised per stack and gated by the stack's environment", () => {
    for (const [f, w] of Object.entries(workflows)) {
      for (const [j, job] of Object.entries(w.jobs)) if (!job.uses) expect(job["timeout-minutes"], `${f}:${j}`).toBeGreaterThan(0);
    }
    const up = workflows["pulumi-up.yml"]!.jobs["up"]!;
    expect(up.concurrency).toEqual({ group: "pulumi-${{ inputs.stack }}", "cancel-in-progress": false });
    expect(up.environment).toMatchObject({ name: "${{ inputs.stack }}" });
    const upStep = up.steps!.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(upStep.with).toMatchObject({ command: "up", policyPacks: "policies" });
    // Every `pulumi up` goes through that one reusable workflow.
    for (const [f, w] of Object.entries(workflows)) {
      if (f === "pulumi-up.yml") continue;
      for (const job of Object.values(w.jobs)) for (const s of job.steps ?? []) expect(s.with?.["command"], f).not.toBe("up");
    }
  });

  it("a failed, cancelled or timed-out update is followed by restoring stable, within the job's time", () => {
    const up = workflows["pulumi-up.yml"]!.jobs["up"]!;
    const steps = up.steps!;
    const i = steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@"));
    const upStep = steps[i]!;
    expect(upStep["timeout-minutes"]).toBeLessThan(up["timeout-minutes"]!);
    const restore = steps.slice(i + 1).find((s) => s.run?.includes("--restore-stable"));
    expect(restore, "a restore step after pulumi up").toBeDefined();
    expect(restore!.run).toBe('npm run --silent rollout -- --restore-stable --stack "$STACK"');
    expect(restore!.if).toContain("failure()");
    expect(restore!.if).toContain("cancelled()");
    expect(upStep["timeout-minutes"]! + restore!["timeout-minutes"]!).toBeLessThanOrEqual(up["timeout-minutes"]!);
  });

  it("promotion: dev, then staging after dev; production from a tag or a dispatch, after the image scan", () => {
    const deploy = workflows["deploy.yml"]!;
    expect(deploy.on).toEqual({ push: { branches: ["main"] } });
    expect(deploy.jobs["staging"]).toMatchObject({ needs: ["dev"], with: { stack: "staging" } });
    expect(deploy.jobs["dev"]).toMatchObject({ needs: ["test"], with: { stack: "dev" } });
    const prod = workflows["production.yml"]!;
    expect(prod.on).toMatchObject({ push: { tags: ["v*.*.*"] }, workflow_dispatch: {} });
    expect(prod.jobs["up"]).toMatchObject({ needs: ["scan"], with: { stack: "production", "policy-config-artifact": "${{ needs.scan.outputs.artifact }}" } });
    expect(workflows["rollback.yml"]!.jobs["up"]).toMatchObject({ with: { ref: "${{ inputs.to }}" } });
  });

  it("production's secrets are out of reach of a pull request: its preview is the offline plan only, no job there holds a Pulumi token for it", () => {
    const pr = workflows["pull-request.yml"]!;
    expect((pr.jobs["preview"] as { strategy: { matrix: { stack: string[] } } }).strategy.matrix.stack).toEqual(["dev", "staging"]);
    for (const [name, job] of Object.entries(pr.jobs)) {
      const text = JSON.stringify(job);
      if (text.includes("PULUMI_ACCESS_TOKEN")) {
        expect(text, name).not.toMatch(/production/);
        // The token comes from the preview environment (a team token for dev and staging), never from the repository.
        expect(job.environment, name).toBe("preview");
      } else expect(job.environment, name).toBeUndefined();
    }
    // A history rollback runs the default branch's rollback command, whatever branch it was dispatched on.
    const history = JSON.stringify(workflows["rollback.yml"]!.jobs["from-history"]);
    expect(history).toContain("scripts/check-release-ref.sh");
    expect(history.indexOf("check-release-ref")).toBeLessThan(history.indexOf("npm ci"));
  });

  it("a deployment checks out only tags and commits of the default branch, checked before anything of the ref runs", () => {
    for (const [file, job] of [
      ["pulumi-up.yml", "up"],
      ["scan-images.yml", "scan"],
    ] as const) {
      const steps = workflows[file]!.jobs[job]!.steps!;
      expect(steps[0], file).toMatchObject({
        uses: expect.stringMatching(/^actions\/checkout@/),
        with: { ref: "${{ github.event.repository.default_branch }}", "fetch-depth": 0 },
      });
      expect(steps[1]!.run, file).toContain('commit="$(bash scripts/check-release-ref.sh "$REF" "$DEFAULT_BRANCH")"');
      expect(steps[1]!.run, file).toContain('git checkout --quiet --detach "$commit"');
      // No other checkout of a ref given as input.
      expect(
        steps.slice(2).filter((s) => s.uses?.startsWith("actions/checkout@")),
        file,
      ).toEqual([]);
    }
    expect(workflows["production.yml"]!.jobs["up"]!.uses).toBe("./.github/workflows/pulumi-up.yml");
    expect(workflows["rollback.yml"]!.jobs["up"]!.uses).toBe("./.github/workflows/pulumi-up.yml");
  });

  it("the scanner image is pinned by digest and every pulumi/actions step pins the CLI version the tests run", () => {
    expect(text("scan-images.yml")).toMatch(/TRIVY_IMAGE: aquasec\/trivy:[\d.]+@sha256:[0-9a-f]{64}\n/);
    const actions = allSteps().filter(({ step }) => step.uses?.startsWith("pulumi/actions@"));
    expect(actions.length).toBe(3);
    const script = readFileSync(join(ROOT, "scripts", "ensure-pulumi-cli.sh"), "utf8");
    const tested = /PULUMI_CLI_VERSION="v([\d.]+)"/.exec(script)![1];
    for (const { where, step } of actions) expect(step.with?.["pulumi-version"], where).toBe(tested);
  });

  it("pull requests: tests, the offline plan of all three stacks, supply-chain checks, previews with the pack", () => {
    const pr = workflows["pull-request.yml"]!;
    expect(pr.jobs["offline-plan"]).toMatchObject({ strategy: { matrix: { stack: ["dev", "staging", "production"] } } });
    const supply = pr.jobs["supply-chain"]!.steps!.map((s) => s.run ?? "").join("\n");
    expect(supply).toContain("gitleaks");
    expect(supply).toContain("npm audit --omit=dev --audit-level=high");
    expect(supply).toContain("npm sbom --sbom-format cyclonedx");
    const preview = pr.jobs["preview"]!.steps!.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    expect(preview.with).toMatchObject({ command: "preview", policyPacks: "policies" });
  });
});
