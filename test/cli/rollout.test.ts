import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { runToEnd, TSX, type RunResult } from "../support/processes";
import { withProvingGround } from "../support/provingGround";
import { ROOT } from "../support/stacks";

const dir = mkdtempSync(join(tmpdir(), "rollout-cli-"));

function configFile(name: string, body: Record<string, unknown>): string {
  const f = join(dir, name);
  writeFileSync(f, stringify(body));
  return f;
}

function rollout(...args: string[]): Promise<RunResult> {
  // Offline runs (--plan, --check, bad input) end well within the test's own minute; a real rollout gets three.
  const offline = args.includes("--plan") || args.includes("--check") || !args.includes("--config");
  return runToEnd(TSX, ["src/cli/rollout.ts", ...args], { cwd: ROOT, timeoutMs: offline ? 45_000 : 180_000 });
}

const release = {
  strategy: "canary",
  steps: [25, 100],
  bakeSeconds: 3,
  maxStepSeconds: 60,
  analysis: { stepCriteria: { "10": { errorRate: 0.05, p95LatencyMs: 1000 } }, expectedRps: 60, metricsUnavailableLimitSeconds: 20 },
};
const base = (stable: string, candidate: string) => ({
  environment: "production",
  stable,
  candidate,
  release,
  target: {
    ...pg.ground.target(),
    candidateUrl: pg.ground.candidateUrl(candidate as "blue" | "green"),
    stableUrl: pg.ground.candidateUrl(stable as "blue" | "green"),
  },
  metrics: pg.ground.metrics(),
  intervalSeconds: 1,
  deadlineSeconds: 150,
});

const pg = withProvingGround({ loadMs: 240_000 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm run rollout (the engine outside Pulumi)", () => {
  it("exits 1 and names every bad key of the file", async () => {
    const f = configFile("bad.yaml", {
      ...base("blue", "green"),
      release: { steps: [25, 50] },
      metrics: { url: "not a url", preset: "haproxy" },
      colour: "red",
    });
    const r = await rollout("--config", f);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`problem(s) in ${f}`);
    expect(r.stderr).toMatch(/release\.steps: must end at 100/);
    expect(r.stderr).toMatch(/metrics\.url: /);
    expect(r.stderr).toMatch(/Unrecognized key: "colour"/);
  });

  it("says which defaults apply, and requires the environment that chooses them", async () => {
    const { environment: _e, ...rest } = base("blue", "green");
    const missing = await rollout("--config", configFile("noenv.yaml", rest), "--plan");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("environment: required (dev, staging or production)");
    const big = await rollout(
      "--config",
      configFile("big.yaml", { ...base("blue", "green"), intervalSeconds: 900, release: { ...release, bakeSeconds: -3 } }),
      "--plan",
    );
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/intervalSeconds: Too big: expected number to be <=300 \(found 900\)/);
    expect(big.stderr).toMatch(/release\.bakeSeconds: .* \(found -3\)/);
  });

  it("--plan rehearses offline: steps, gates, bake and limit, expected time and detectable regression; --json parses", async () => {
    const r = await rollout(
      "--config",
      configFile("plan.yaml", { ...base("blue", "green"), metrics: { ...pg.ground.metrics(), url: "http://127.0.0.1:1" } }),
      "--plan",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as {
      conclusive: boolean;
      gatesBeforeTraffic: string[];
      gatesBeforePromotion: string[];
      steps: { weight: number; requestsNeeded: number; expectedSeconds: number; limitSeconds: number; detectableErrorRatio: number | null }[];
    };
    expect(plan.conclusive).toBe(true);
    expect(plan.gatesBeforeTraffic).toEqual(["smoke"]);
    expect(plan.gatesBeforePromotion).toEqual(["candidate-health"]);
    expect(plan.steps[0]).toMatchObject({ weight: 25, limitSeconds: 60 });
    expect(plan.steps[0]!.requestsNeeded).toBeGreaterThan(0);
    expect(plan.steps[0]!.detectableErrorRatio).toBeGreaterThan(1);
    const text = await rollout("--config", configFile("plan.yaml", base("blue", "green")), "--plan");
    expect(text.stdout).toMatch(
      /^ {2}25%: criteria error rate < 5\.00%, p95 < 1000 ms; bake 3 s, limit 60 s; needs \d+ candidate requests, ~\d+ s; detects error-rate regressions ≥ [\d.]+×$/m,
    );
    expect(text.stdout).toContain("plan: every step can reach a verdict");
  });

  it("a release its own forecast says cannot conclude is refused before it starts (unless overridden)", async () => {
    const starved = {
      ...base("blue", "green"),
      release: { ...release, steps: [1, 100], maxStepSeconds: 10, analysis: { ...release.analysis, expectedRps: 2 } },
    };
    const plan = await rollout("--config", configFile("starved.yaml", starved), "--plan");
    expect(plan.code).toBe(1);
    expect(plan.stdout).toMatch(/step 1 \(1%\) needs \d+ candidate requests, about \d+ s at 2 req\/s, but its limit is 10 s/);
    const run = await rollout("--config", configFile("starved.yaml", starved));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Nothing was started: raise the first steps' weights, lengthen maxStepSeconds .* \(or pass --allow-inconclusive\)/);
    expect(await pg.ground.weights()).toEqual({ blue: 100, green: 0 });
  });

  it("--check asks everything the release needs and moves nothing; a missing latency source or a broken query fails it", async () => {
    const ok = await rollout("--config", configFile("check.yaml", base("blue", "green")), "--check", "--json");
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout) as { ok: boolean; checks: { what: string; ok: boolean; detail: string }[] };
    expect(report.checks.map((c) => c.what)).toEqual(["live split", "checkpoint", "metrics (candidate green)", "metrics (stable blue)", "smoke tests"]);
    expect(report.checks.find((c) => c.what === "live split")!.detail).toMatch(/live blue 100%, green 0%/);
    const noLatency = await rollout(
      "--config",
      configFile("check2.yaml", { ...base("blue", "green"), metrics: { url: pg.ground.prometheus.url, preset: "haproxy", scope: "be_app" } }),
      "--check",
    );
    expect(noLatency.code).toBe(1);
    expect(noLatency.stdout).toMatch(/^FAIL latency source: no latency histogram is configured/m);
    const typo = await rollout(
      "--config",
      configFile("check3.yaml", {
        ...base("blue", "green"),
        metrics: {
          ...pg.ground.metrics(),
          templates: { ...pg.ground.metrics().templates, latencyBuckets: 'sample_http_request_duraton_seconds_bucket{slot="{{revision}}"}' },
        },
      }),
      "--check",
    );
    expect(typo.code).toBe(1);
    expect(typo.stdout).toMatch(/^FAIL metrics \(candidate green\): .*no series for sample_http_request_duraton_seconds_bucket/m);
    expect(await pg.ground.weights()).toEqual({ blue: 100, green: 0 });
  });

  it("the README's example file plans conclusively offline and passes --check on real HAProxy and Prometheus (only addresses changed)", async () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const example = [...readme.matchAll(/```yaml\n(.*?)```/gs)].map((m) => m[1]!).find((b) => b.includes("kind: haproxy"));
    expect(example).toBeDefined();
    const file = parse(example!) as Record<string, any>;
    const plan = await rollout("--config", configFile("readme-plan.yaml", file), "--plan");
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain("plan: every step can reach a verdict");
    // This machine's addresses, and the sample backends' histogram name (they prefix their metrics with sample_).
    const here = {
      ...file,
      target: {
        ...file["target"],
        runtimeApi: pg.ground.target().runtimeApi,
        stateFile: pg.ground.target().stateFile,
        candidateUrl: pg.ground.candidateUrl("green"),
        stableUrl: pg.ground.candidateUrl("blue"),
      },
      metrics: {
        ...file["metrics"],
        url: pg.ground.prometheus.url,
        templates: { ...file["metrics"].templates, latencyBuckets: `sample_${file["metrics"].templates.latencyBuckets}` },
      },
    };
    expect(Object.keys(here).sort()).toEqual(Object.keys(file).sort());
    const check = await rollout("--config", configFile("readme-check.yaml", here), "--check");
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(await pg.ground.weights()).toEqual({ blue: 100, green: 0 });
  });

  it("promotes a healthy candidate (exit 0) and prints the decision record", async () => {
    const r = await rollout("--config", configFile("ok.yaml", base("blue", "green")), "--json");
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(r.stdout) as { phase: string; steps: { weight: number; outcome: string; measurements: { gate: string }[] }[] };
    expect(record.phase).toBe("promoted");
    expect(record.steps.map((s) => [s.weight, s.outcome])).toEqual([
      [25, "pass"],
      [100, "pass"],
    ]);
    expect(record.steps[0]!.measurements.map((m) => m.gate)).toEqual(["step:error-rate", "step:p95-latency"]);
    expect(r.stderr).toMatch(/expected rollout ~/);
    expect((await pg.ground.weights()).green).toBe(100);
  }, 180_000);

  it("rolls back a +300 ms latency regression (exit 3) on a latency gate", async () => {
    await pg.ground.redeploy("blue", "v3-slow", ["--added-latency-ms", "300"]);
    const r = await rollout("--config", configFile("slow.yaml", base("green", "blue")), "--json");
    expect(r.code, r.stderr).toBe(3);
    const record = JSON.parse(r.stdout) as { phase: string; failure: { gate: string; message: string } };
    expect(record.phase).toBe("rolled-back");
    expect(record.failure.gate).toMatch(/latency/);
    expect(record.failure.message).toMatch(/^step 1\/2 \(25% to blue\)/);
    expect((await pg.ground.weights()).blue).toBe(0);
    expect((await pg.ground.weights()).green).toBe(100);
  }, 180_000);

  it("rejects a candidate failing its smoke test before it gets any traffic (exit 3)", async () => {
    await pg.ground.redeploy("blue", "v4-broken", ["--fail-health"]);
    const before = pg.load.snapshot().byVersion["v4-broken"];
    const r = await rollout("--config", configFile("smoke.yaml", { ...base("green", "blue"), retryToken: "smoke" }), "--json");
    expect(r.code, r.stderr).toBe(3);
    const record = JSON.parse(r.stdout) as { phase: string; failure: { gate: string; message: string } };
    expect(record.phase).toBe("rejected");
    expect(record.failure.gate).toBe("smoke");
    expect(record.failure.message).toContain("GET /health: status 503, expected 200");
    expect((await pg.ground.weights()).blue).toBe(0);
    expect(before).toBeUndefined();
    expect(pg.load.snapshot().byVersion["v4-broken"]).toBeUndefined();
  }, 180_000);
});

describe("a killed rollout and --restore-stable", () => {
  it("restores 100% stable from the checkpoint; the next run starts the release afresh and promotes it", async () => {
    await pg.ground.redeploy("blue", "v5");
    const f = configFile("killed.yaml", { ...base("green", "blue"), release: { ...release, steps: [20, 40, 60, 100] }, retryToken: "v5" });
    let killed = false;
    const first = await runToEnd(TSX, ["src/cli/rollout.ts", "--config", f], {
      cwd: ROOT,
      timeoutMs: 180_000,
      group: true,
      watch: (out, signal) => {
        if (killed || !/step 2\/4: 40% to the candidate/.test(out)) return;
        killed = true;
        // Like Ctrl-C that never reaches the engine, or a machine going away: kill the whole group.
        setTimeout(() => signal("SIGKILL", true), 1_500);
      },
    });
    expect(killed).toBe(true);
    expect(first.code).not.toBe(0);
    expect((await pg.ground.weights()).blue).toBeGreaterThan(0);
    const restore = await rollout("--restore-stable", "--config", f, "--json");
    expect(restore.code, restore.stderr).toBe(0);
    expect(JSON.parse(restore.stdout)).toMatchObject({ restored: [{ moved: true }] });
    expect(await pg.ground.weights()).toEqual({ blue: 0, green: 100 });
    const again = await rollout("--restore-stable", "--config", f);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/nothing to restore/);
    const next = await rollout("--config", f);
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(next.stdout).toMatch(/rolling out blue over green .*live split checked: 100% on green/);
    expect(next.stdout).toMatch(/step 1\/4: 20% to the candidate/);
    expect(await pg.ground.weights()).toEqual({ blue: 100, green: 0 });

    // A checkpoint that belongs to another target (two backends sharing one state file) names nothing here: refused.
    const stateFile = pg.ground.target().stateFile;
    const c = JSON.parse(readFileSync(stateFile, "utf8")) as { target: string; state: { phase: string } };
    writeFileSync(stateFile, JSON.stringify({ ...c, target: "haproxy:127.0.0.1:1/be_other", state: { ...c.state, phase: "analysing" } }));
    const foreign = await rollout("--restore-stable", "--config", f);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain("belongs to another target (haproxy:127.0.0.1:1/be_other)");
    expect(await pg.ground.weights()).toEqual({ blue: 100, green: 0 });
  }, 240_000);
});
