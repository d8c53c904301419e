import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad, type Load } from "./support/load";
import { ProvingGround, type Slot } from "./support/provingGround";
import { PulumiCli, runCommand } from "./support/pulumiCli";
import { ROOT } from "./support/stacks";

/**
 * The real Pulumi engine: the CLI and the Node.js language host built from
 * their Go modules (scripts/ensure-pulumi-cli.sh), a local file backend, and
 * test/engine/project, whose one TrafficSplit runs this repository's release
 * engine against a proving ground (real HAProxy and Prometheus, live load
 * on loopback).
 */

const PROJECT = "engine-test";
/** The policy pack as users run it: `pulumi preview --policy-pack policies` (runtime: nodejs, through the language host). */
const PACK = join(ROOT, "policies");
const packConfig = (env: string) => join(ROOT, "policies", "config", `${env}.json`);
let ground: ProvingGround;
let load: Load;
let cli: PulumiCli;

const rollout = (stable: Slot, candidate: Slot, steps: number[], extra: Record<string, unknown> = {}) => ground.splitInputs(stable, candidate, steps, { environment: "staging", deadlineSeconds: 180, ...extra });

const outputs = async () => JSON.parse(await cli.ok(["stack", "output", "--json"])) as Record<string, unknown>;

beforeAll(async () => {
  cli = new PulumiCli(join(ROOT, "test", "engine", "project"), `engine-${process.pid}`);
  ground = await ProvingGround.start({ blue: { version: "v1" }, green: { version: "v2" }, active: "blue" });
  load = startLoad(`${ground.haproxy.frontend}/api`, 60, 420_000);
  await cli.init();
}, 900_000);

afterAll(async () => {
  load?.stop();
  await load?.done;
  await ground?.stop();
  cli?.remove();
});

describe("the release engine under the real Pulumi CLI", () => {
  it("pulumi preview --policy-pack shows the planned release and the policy verdicts", async () => {
    cli.setConfig(PROJECT, { rollout: rollout("blue", "green", [25, 100]) });
    const preview = await cli.run(["preview", "--diff", "--policy-pack", PACK, "--policy-pack-config", packConfig("staging")]);
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    expect(preview.stdout).toMatch(/\+ pulumi-nodejs:dynamic\/progressive-delivery:TrafficSplit: \(create\)/);
    expect(preview.stdout).toMatch(/candidate\s*: "green"/);
    // The pack ran (and found nothing: staging's rules hold for this release); the next test shows it failing one.
    expect(preview.stdout).toMatch(/Policy Packs run:\s*\n.*\n\s*progressive-delivery\|local\|\S*policies\s+0\.1\.0/);
    expect(preview.stdout).not.toMatch(/\[(mandatory|advisory)\]/);
    // Nothing moved: a preview never touches traffic.
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });
  }, 300_000);

  it("a production release that breaks the pack's release gate fails the preview, naming the policy", async () => {
    cli.setConfig(PROJECT, { rollout: rollout("blue", "green", [25, 100], { environment: "production" }) });
    const preview = await cli.run(["preview", "--policy-pack", PACK, "--policy-pack-config", packConfig("production")]);
    expect(preview.code).not.toBe(0);
    expect(preview.stdout).toMatch(/\[mandatory\].*release-production-canary/);
    expect(preview.stdout).toContain("the first canary step sends 25% of traffic");
  }, 300_000);

  it("pulumi up with a healthy candidate promotes it; a second preview shows no changes", async () => {
    cli.setConfig(PROJECT, { rollout: rollout("blue", "green", [25, 100]) });
    const up = await cli.ok(["up", "--yes", "--skip-preview"]);
    expect(up).toMatch(/\+ .*TrafficSplit.* created/);
    expect(up).toMatch(/promoted: green promoted to 100% after 2 step\(s\)/);
    expect(await outputs()).toMatchObject({ phase: "promoted", stableRevision: "green", liveCandidateWeight: 100 });
    expect(await ground.weights()).toEqual({ blue: 0, green: 100 });
    const again = await cli.run(["preview", "--expect-no-changes"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    // npm run status reads the release record from the stack's outputs.
    const status = await runCommand("status", ["--stack", cli.stack, "--project-dir", cli.projectDir], cli.environment);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^release: promoted; candidate green carries 100%, stable is green$/m);
    expect(status.stdout).toMatch(/^  step 1 at 25%: pass after \d+ s, \d+ candidate \/ \d+ stable requests \| .*step:error-rate/m);
    const missing = await runCommand("status", ["--stack", "no-such-stack", "--project-dir", cli.projectDir], cli.environment);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^status: cannot select stack no-such-stack in .*: .*no-such-stack/m);
  }, 300_000);

  it("pulumi up with a bad candidate fails with the engine's message; HAProxy carries 100% stable; history records the failed update", async () => {
    await ground.redeploy("blue", "v3-err5", ["--error-rate", "0.05"]);
    cli.setConfig(PROJECT, { rollout: rollout("green", "blue", [25, 100]) });
    const up = await cli.run(["up", "--yes", "--skip-preview"]);
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toMatch(/step 1\/2 \(25% to blue\): (comparative|guardrail):error-rate: candidate error rate/);
    expect(await ground.weights()).toEqual({ blue: 0, green: 100 });
    const history = JSON.parse(await cli.ok(["stack", "history", "--json"])) as { kind: string; result: string }[];
    expect(history.map((h) => [h.kind, h.result])).toEqual([
      ["update", "failed"],
      ["update", "succeeded"],
    ]);
  }, 300_000);

  it("npm run rollback returns traffic and state to the previous good release; unconfirmed, it changes nothing", async () => {
    // Update 3: a healthy new build in the blue slot is promoted over green.
    await ground.redeploy("blue", "v4");
    cli.setConfig(PROJECT, { rollout: rollout("green", "blue", [25, 100], { retryToken: "v4" }) });
    await cli.ok(["up", "--yes", "--skip-preview"]);
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });

    const rollback = (...args: string[]) => runCommand("rollback", ["--stack", cli.stack, "--project-dir", cli.projectDir, ...args], cli.environment);
    const configBefore = readFileSync(cli.configFile, "utf8");
    const refused = await rollback("--immediate");
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    expect(refused.stderr).toContain("not confirmed");
    expect(refused.stdout).toMatch(/returning to update 1 /);
    expect(readFileSync(cli.configFile, "utf8")).toBe(configBefore);
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });

    // The last successful update before the newest is update 1 (update 2 failed): green over blue, switched at once.
    const done = await rollback("--immediate", "--yes", "--policy-pack", PACK, "--policy-pack-config", packConfig("staging"));
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.stdout).toMatch(/configuration changes:\n(.*\n)*\s+engine-test:releaseImmediately: \(unset\) -> "true"/);
    expect(done.stdout).toMatch(/step 1\/1: 100% to the candidate/);
    expect(done.stdout).toMatch(/Policy Packs run:\s*\n.*\n\s*progressive-delivery\|local\|/);
    expect(await ground.weights()).toEqual({ blue: 0, green: 100 });
    expect(await outputs()).toMatchObject({ phase: "promoted", stableRevision: "green" });
    const history = JSON.parse(await cli.ok(["stack", "history", "--json"])) as { result: string; config: Record<string, { value: string }> }[];
    expect(history.map((h) => h.result)).toEqual(["succeeded", "succeeded", "failed", "succeeded"]);
    expect(JSON.parse(history[0]!.config["engine-test:rollout"]!.value)).toMatchObject({ stable: "blue", candidate: "green" });
  }, 400_000);

  it("pulumi up interrupted mid-rollout (SIGINT, then SIGKILL of the CLI and its plugins): the next pulumi up resumes from the checkpoint and converges", async () => {
    await ground.redeploy("blue", "v5");
    cli.setConfig(PROJECT, { rollout: rollout("green", "blue", [20, 40, 60, 100], { retryToken: "v5" }) });
    let interrupted = false;
    const first = await cli.run(["up", "--yes", "--skip-preview"], 240_000, (out, signal) => {
      if (interrupted || !/step 3\/4: 60% to the candidate/.test(out)) return;
      interrupted = true;
      signal("SIGINT");
      // The provider's Cancel is a no-op (README): like a machine going away, kill everything.
      setTimeout(() => signal("SIGKILL", true), 2_000);
    });
    expect(interrupted).toBe(true);
    expect(first.code).not.toBe(0);
    // Killed at step 3: the move to 60% was made or is about to be; never more than the checkpoint's step.
    expect([40, 60]).toContain((await ground.weights()).blue);

    // The file backend keeps the dead update's lock; the CLI says what to do.
    const locked = await cli.run(["up", "--yes", "--skip-preview"]);
    expect(locked.code).not.toBe(0);
    expect(locked.stdout + locked.stderr).toMatch(/currently locked .*`pulumi cancel`/s);
    await cli.ok(["cancel", "--yes"]);
    // An interrupted first rollout leaves a pending create (this test run alone); in the suite's order it is an update.
    if (/TrafficSplit release creating/.test(first.stdout)) await cli.ok(["refresh", "--yes", "--clear-pending-creates"]);

    const second = await cli.run(["up", "--yes", "--skip-preview"]);
    expect(second.code, second.stdout.slice(-3000) + second.stderr.slice(-1500)).toBe(0);
    expect(second.stdout).toMatch(/resuming green->blue#v5 from its checkpoint: phase analysing, step 3\/4 at 60%/);
    expect(second.stdout).not.toMatch(/step [12]\/4: /);
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });
    expect(await outputs()).toMatchObject({ phase: "promoted", stableRevision: "blue" });
  }, 600_000);

  it("npm run report agrees with pulumi stack history: outcomes, change failure rate, restore and lead times, a chart", async () => {
    const chart = join(cli.dir, "delivery.svg");
    const args = ["--stack", cli.stack, "--project-dir", cli.projectDir, "--chart", chart];
    const r = await runCommand("report", [...args, "--format", "json"], cli.environment);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { updates: number; byOutcome: Record<string, number>; changeFailureRate: number; timeToRestoreMinutes: { count: number } | null; leadTimeHours: { count: number } | null };
    const updates = (JSON.parse(await cli.ok(["stack", "history", "--json"])) as { kind: string; result: string }[]).filter((h) => h.kind === "update");
    const count = (result: string) => updates.filter((h) => h.result === result).length;
    expect(count("failed")).toBeGreaterThan(0);
    expect(report.updates).toBe(updates.length);
    expect(report.byOutcome["succeeded"] ?? 0).toBe(count("succeeded"));
    expect(report.byOutcome["failed"] ?? 0).toBe(count("failed"));
    expect(report.changeFailureRate).toBeCloseTo(count("failed") / (count("succeeded") + count("failed")), 2);
    expect(report.timeToRestoreMinutes?.count).toBeGreaterThan(0);
    // Every update ran from this clone's HEAD (git.head), whose commit time git knows.
    expect(report.leadTimeHours?.count).toBe(count("succeeded"));
    const svg = readFileSync(chart, "utf8");
    expect(svg).toMatch(/^<svg /);
    expect(svg).toMatch(/<rect [^>]*fill="#2e7d32"><title>\d{4}-\d\d-\d\d: \d+ succeeded<\/title>/);
    const md = await runCommand("report", args, cli.environment);
    expect(md.stdout).toMatch(/^\| Change failure rate \| \d+% \|$/m);
  }, 120_000);
});
