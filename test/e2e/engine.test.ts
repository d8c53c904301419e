import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad, type Load } from "../support/load";
import { ProvingGround, provingGroundRelease, type Slot } from "../support/provingGround";
import { PulumiCli, runCommand } from "../support/pulumiCli";
import { ROOT } from "../support/stacks";

/**
 * The real Pulumi engine: the CLI and the Node.js language host built from
 * their Go modules (scripts/ensure-pulumi-cli.sh), a local file backend, and
 * test/e2e/project, whose one TrafficSplit runs this repository's release
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
/** A secret that must never appear in plaintext: state, outputs, history, any output, any process's command line. */
const SENTINEL = `sentinel-${randomBytes(12).toString("hex")}`;
const commandLinesWithSentinel: string[] = [];
let watching: NodeJS.Timeout | undefined;

/** Every process's command line on this machine, read from /proc (bounded: one pass). */
function scanCommandLines(): void {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(SENTINEL)) commandLinesWithSentinel.push(cmdline);
    } catch {
      /* gone meanwhile */
    }
  }
}

const rollout = (stable: Slot, candidate: Slot, steps: number[], extra: Record<string, unknown> = {}) =>
  ground.splitInputs(stable, candidate, steps, { environment: "staging", deadlineSeconds: 180, ...extra });

const outputs = async () => JSON.parse(await cli.ok(["stack", "output", "--json"])) as Record<string, unknown>;

beforeAll(async () => {
  cli = new PulumiCli(join(ROOT, "test", "e2e", "project"), `engine-${process.pid}`);
  ground = await ProvingGround.start({ blue: { version: "v1" }, green: { version: "v2" }, active: "blue" });
  load = startLoad(`${ground.haproxy.frontend}/api`, 60, 420_000);
  await cli.init();
  await cli.setSecret(PROJECT, "webhookSecret", SENTINEL);
  // Watch every process's command line for the whole file (every 50 ms; stopped in afterAll).
  watching = setInterval(scanCommandLines, 50);
}, 900_000);

afterAll(async () => {
  clearInterval(watching);
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
    // Each progress event is one line, shown once and in the order it happened.
    const lines = up
      .split("\n")
      .filter((l) => l.includes("[traffic-split]"))
      .map((l) => l.slice(l.indexOf("[traffic-split]")));
    expect(lines.length).toBeGreaterThan(5);
    expect(new Set(lines).size).toBe(lines.length);
    const order = ["expected rollout", "gate smoke: passed", "step 1/2: 25%", "gate candidate-health: passed", "step 2/2: 100%", "promoted: green"].map((t) =>
      lines.findIndex((l) => l.includes(t)),
    );
    expect(order.every((n) => n >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(up).not.toMatch(/^Diagnostics:/m);
    expect(await outputs()).toMatchObject({ phase: "promoted", stableRevision: "green", liveCandidateWeight: 100 });
    expect(await ground.weights()).toEqual({ blue: 0, green: 100 });
    const again = await cli.run(["preview", "--expect-no-changes"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    // npm run status reads the release record from the stack's outputs.
    const status = await runCommand("status", ["--stack", cli.stack, "--project-dir", cli.projectDir], cli.environment, undefined, cli.transcript);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^release: promoted; candidate green carries 100%, stable is green$/m);
    expect(status.stdout).toMatch(/^ {2}step 1 at 25%: pass after \d+ s, \d+ candidate \/ \d+ stable requests \| .*step:error-rate/m);
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
    // Status shows this latest release, failed as it is, not the previous promotion the stack's outputs still carry.
    const status = await runCommand("status", ["--stack", cli.stack, "--project-dir", cli.projectDir], cli.environment, undefined, cli.transcript);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^release: rolled-back; candidate blue carries 0%, stable is green$/m);
    expect(status.stdout).toMatch(/^ {2}blue rolled-back: step 1\/2 \(25% to blue\): (comparative|guardrail):error-rate/m);
    expect(status.stdout).toMatch(
      /^ {2}step 1 at 25%: fail after \d+ s, \d+ candidate \/ \d+ stable requests \| (comparative|guardrail):error-rate \S+.* \(≤ [^)]+\)$/m,
    );
    const json = await runCommand("status", ["--stack", cli.stack, "--project-dir", cli.projectDir, "--json"], cli.environment, undefined, cli.transcript);
    expect((JSON.parse(json.stdout) as Record<string, { phase: string }>)["release"]?.phase).toBe("rolled-back");
  }, 300_000);

  it("npm run rollback returns traffic and state to the previous good release; unconfirmed, it changes nothing", async () => {
    // Update 3: a healthy new build in the blue slot is promoted over green.
    await ground.redeploy("blue", "v4");
    cli.setConfig(PROJECT, { rollout: rollout("green", "blue", [25, 100], { retryToken: "v4" }) });
    await cli.ok(["up", "--yes", "--skip-preview"]);
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });

    const rollback = (...args: string[]) =>
      runCommand("rollback", ["--stack", cli.stack, "--project-dir", cli.projectDir, ...args], cli.environment, undefined, cli.transcript);
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

  it("pulumi up killed mid-rollout (SIGINT, then SIGKILL of the CLI and its plugins): npm run rollout -- --restore-stable puts 100% back on stable, and the next pulumi up starts a fresh release", async () => {
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

    // The one command to get back to stable after a killed update: it reads the split's inputs from the stack's state.
    const restore = await runCommand(
      "rollout",
      ["--restore-stable", "--stack", cli.stack, "--project-dir", cli.projectDir],
      cli.environment,
      undefined,
      cli.transcript,
    );
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stdout, restore.stdout + restore.stderr).toMatch(
      /restored green to 100% \(was green \d+%, blue \d+%\); the next update starts green->blue#v5 afresh/,
    );
    expect(await ground.weights()).toEqual({ blue: 0, green: 100 });

    const second = await cli.run(["up", "--yes", "--skip-preview"]);
    expect(second.code, second.stdout.slice(-3000) + second.stderr.slice(-1500)).toBe(0);
    expect(second.stdout).not.toMatch(/resuming/);
    expect(second.stdout).toMatch(/step 1\/4: 20% to the candidate/);
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });
    expect(await outputs()).toMatchObject({ phase: "promoted", stableRevision: "blue" });
  }, 600_000);

  it("rolling back to a prior state whose candidate still serves 100% moves no traffic (no canary back to the rejected slot)", async () => {
    // Update B: a new build in the green slot fails its smoke test; blue (promoted by the last update) keeps 100%.
    await ground.redeploy("green", "v6-broken", ["--fail-health"]);
    cli.setConfig(PROJECT, { rollout: rollout("blue", "green", [25, 100], { retryToken: "v6" }) });
    const b = await cli.run(["up", "--yes", "--skip-preview"]);
    expect(b.code).not.toBe(0);
    expect(b.stdout + b.stderr).toContain("smoke gate failed before any traffic");
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });

    // npm run rollback redeploys the last good update's configuration (candidate blue over green), without --immediate.
    const back = await runCommand("rollback", ["--stack", cli.stack, "--project-dir", cli.projectDir, "--yes"], cli.environment, undefined, cli.transcript);
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(back.stdout, back.stdout.slice(-3000) + back.stderr).toMatch(/blue already serves 100%: an earlier update promoted this release \(green->blue#v5\)/);
    expect(back.stdout).not.toMatch(/step \d\/\d: \d+% to the candidate/);
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });
    expect(await outputs()).toMatchObject({ phase: "promoted", stableRevision: "blue" });
  }, 400_000);

  it("a stable version that is not what serves (the drift lock): the update fails and nothing moves", async () => {
    await ground.redeploy("green", "v7");
    cli.setConfig(PROJECT, { rollout: rollout("green", "blue", [25, 100], { retryToken: "typo" }) });
    const up = await cli.run(["up", "--yes", "--skip-preview"]);
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toMatch(
      /the live split is not what this release expects before any traffic moved: live green 0%, blue 100%; expected green 100%, blue 0%/,
    );
    expect(up.stdout + up.stderr).toContain("fix the stable version");
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });
  }, 300_000);

  it("the metrics scrape path cut late in a step: the update is not promoted, and fails with the metrics outage", async () => {
    cli.setConfig(PROJECT, {
      rollout: rollout("blue", "green", [50, 100], { retryToken: "v7", release: { ...provingGroundRelease([50, 100]), bakeSeconds: 12 } }),
    });
    // The CLI prints diagnostics late; HAProxy's own weights say when the step started.
    const running = cli.run(["up", "--yes", "--skip-preview"], 240_000);
    const until = Date.now() + 120_000;
    while ((await ground.weights()).green !== 50 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const cut = (await ground.weights()).green === 50;
    await new Promise((r) => setTimeout(r, 8_000));
    ground.scrapePath.down = true;
    const up = await running;
    ground.scrapePath.down = false;
    expect(cut).toBe(true);
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toMatch(/metrics unavailable for \d+ s/);
    expect(up.stdout).not.toMatch(/promoted to 100%/);
    expect(await ground.weights()).toEqual({ blue: 100, green: 0 });
  }, 300_000);

  it("npm run report agrees with pulumi stack history: outcomes, change failure rate, restore and lead times, a chart", async () => {
    const chart = join(cli.dir, "delivery.svg");
    const args = ["--stack", cli.stack, "--project-dir", cli.projectDir, "--chart", chart];
    const r = await runCommand("report", [...args, "--format", "json"], cli.environment);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      updates: number;
      byOutcome: Record<string, number>;
      changeFailureRate: number;
      timeToRestoreMinutes: { count: number } | null;
      leadTimeHours: { count: number } | null;
    };
    const updates = (JSON.parse(await cli.ok(["stack", "history", "--json"])) as { kind: string; result: string }[]).filter((h) => h.kind === "update");
    const count = (result: string) => updates.filter((h) => h.result === result).length;
    expect(count("failed")).toBeGreaterThan(0);
    expect(report.updates).toBe(updates.length);
    expect(report.byOutcome["succeeded"] ?? 0).toBe(count("succeeded"));
    expect(report.byOutcome["failed"] ?? 0).toBe(count("failed"));
    // The report rounds to two decimals.
    expect(Math.abs(report.changeFailureRate - count("failed") / (count("succeeded") + count("failed")))).toBeLessThanOrEqual(0.005 + 1e-9);
    expect(report.timeToRestoreMinutes?.count).toBeGreaterThan(0);
    // Every update ran from this clone's HEAD (git.head), whose commit time git knows.
    expect(report.leadTimeHours?.count).toBe(count("succeeded"));
    const svg = readFileSync(chart, "utf8");
    expect(svg).toMatch(/^<svg /);
    expect(svg).toMatch(/<rect [^>]*fill="#2e7d32"><title>\d{4}-\d\d-\d\d: \d+ succeeded<\/title>/);
    const md = await runCommand("report", args, cli.environment);
    expect(md.stdout).toMatch(/^\| Change failure rate \| \d+% \|$/m);
  }, 120_000);

  it("the secret input never appears in plaintext: stack export, history, outputs, every command's output, the engine's log, any command line", async () => {
    expect(SENTINEL).toMatch(/^sentinel-[0-9a-f]{24}$/);
    const exported = await cli.ok(["stack", "export"]);
    expect(exported).toContain("webhookSecret");
    expect(exported).not.toContain(SENTINEL);
    const history = await cli.ok(["stack", "history", "--json"]);
    expect(history).not.toContain(SENTINEL);
    expect(await cli.ok(["stack", "output", "--json"])).not.toContain(SENTINEL);
    expect(cli.transcript.length).toBeGreaterThan(20);
    const leaks = cli.transcript.filter((t) => t.includes(SENTINEL)).map((t) => t.slice(Math.max(0, t.indexOf(SENTINEL) - 300), t.indexOf(SENTINEL) + 60));
    expect(leaks).toEqual([]);
    // The secret was really there (the only command here that decrypts it, on purpose, after the transcript check).
    expect(await cli.ok(["config", "get", "webhookSecret"])).toContain(SENTINEL);
    // Rollbacks re-set the stack's secret config from history (decrypted): through stdin, never argv.
    scanCommandLines();
    expect(commandLinesWithSentinel).toEqual([]);
  }, 120_000);
});
