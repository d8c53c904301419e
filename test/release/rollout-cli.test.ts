import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { startLoad, type Load } from "../support/load";
import { runToEnd, TSX, type RunResult } from "../support/processes";
import { ProvingGround } from "../support/provingGround";
import { ROOT } from "../support/stacks";

let ground: ProvingGround;
let load: Load;
const dir = mkdtempSync(join(tmpdir(), "rollout-cli-"));

function configFile(name: string, body: Record<string, unknown>): string {
  const f = join(dir, name);
  writeFileSync(f, stringify(body));
  return f;
}

function rollout(...args: string[]): Promise<RunResult> {
  return runToEnd(TSX, ["src/cli/rollout.ts", ...args], { cwd: ROOT, timeoutMs: 180_000 });
}

const release = { strategy: "canary", steps: [25, 100], bakeSeconds: 3, maxStepSeconds: 60, analysis: { stepCriteria: { "10": { errorRate: 0.05, p95LatencyMs: 1000 } }, expectedRps: 60, metricsUnavailableLimitSeconds: 20 } };
const base = (stable: string, candidate: string) => ({
  environment: "production",
  stable,
  candidate,
  release,
  target: { ...ground.target(), candidateUrl: ground.candidateUrl(candidate as "blue" | "green") },
  metrics: ground.metrics(),
  intervalSeconds: 1,
  deadlineSeconds: 150,
});

beforeAll(async () => {
  ground = await ProvingGround.start({ blue: { version: "v1" }, green: { version: "v2" }, active: "blue" });
  load = startLoad(`${ground.haproxy.frontend}/api`, 60, 240_000);
}, 60_000);
afterAll(async () => {
  load?.stop();
  await load?.done;
  await ground?.stop();
});

describe("npm run rollout (the engine outside Pulumi)", () => {
  it("exits 1 and names every bad key of the file", async () => {
    const f = configFile("bad.yaml", { ...base("blue", "green"), release: { steps: [25, 50] }, metrics: { url: "not a url", preset: "haproxy" }, colour: "red" });
    const r = await rollout("--config", f);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`problem(s) in ${f}`);
    expect(r.stderr).toMatch(/release\.steps: must end at 100/);
    expect(r.stderr).toMatch(/metrics\.url: /);
    expect(r.stderr).toMatch(/Unrecognized key: "colour"/);
  });

  it("--dry-run evaluates the gates without moving traffic", async () => {
    // Nothing moves, so the candidate (at 0%) gets no traffic: the step stays inconclusive until its limit.
    const r = await rollout("--config", configFile("dry.yaml", { ...base("blue", "green"), release: { ...release, maxStepSeconds: 8 } }), "--dry-run", "--json");
    expect(r.code).toBe(3);
    const record = JSON.parse(r.stdout) as { dryRun: boolean; failure: { gate: string } };
    expect(record.dryRun).toBe(true);
    expect(record.failure.gate).toBe("inconclusive");
    expect(r.stderr).toContain("dry run:");
    expect((await ground.weights()).blue).toBe(100);
    expect((await ground.weights()).green).toBe(0);
  }, 180_000);

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
    expect((await ground.weights()).green).toBe(100);
  }, 180_000);

  it("rolls back a +300 ms latency regression (exit 3) on a latency gate", async () => {
    await ground.redeploy("blue", "v3-slow", ["--added-latency-ms", "300"]);
    const r = await rollout("--config", configFile("slow.yaml", base("green", "blue")), "--json");
    expect(r.code, r.stderr).toBe(3);
    const record = JSON.parse(r.stdout) as { phase: string; failure: { gate: string; message: string } };
    expect(record.phase).toBe("rolled-back");
    expect(record.failure.gate).toMatch(/latency/);
    expect(record.failure.message).toMatch(/^step 1\/2 \(25% to blue\)/);
    expect((await ground.weights()).blue).toBe(0);
    expect((await ground.weights()).green).toBe(100);
  }, 180_000);

  it("rejects a candidate failing its smoke test before it gets any traffic (exit 3)", async () => {
    await ground.redeploy("blue", "v4-broken", ["--fail-health"]);
    const before = load.snapshot().byVersion["v4-broken"];
    const r = await rollout("--config", configFile("smoke.yaml", { ...base("green", "blue"), retryToken: "smoke" }), "--json");
    expect(r.code, r.stderr).toBe(3);
    const record = JSON.parse(r.stdout) as { phase: string; failure: { gate: string; message: string } };
    expect(record.phase).toBe("rejected");
    expect(record.failure.gate).toBe("smoke");
    expect(record.failure.message).toContain("GET /health: status 503, expected 200");
    expect((await ground.weights()).blue).toBe(0);
    expect(before).toBeUndefined();
    expect(load.snapshot().byVersion["v4-broken"]).toBeUndefined();
  }, 180_000);
});
