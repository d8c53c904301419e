/**
 * Policy-evaluation benchmark: the production stack's resources (the offline
 * plan's evaluation of Pulumi.production.yaml) analysed by the real pack over
 * the analyzer protocol, as `pulumi preview --policy-pack` calls it: one
 * Analyze per resource and one AnalyzeStack. Pack start-up is timed apart.
 *
 *   npm run bench:policies [-- --rounds 20] [--json]   writes BENCHMARKS.md (not with --json)
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { PROJECT } from "../../src/config/load";
import { evaluateStack } from "../../src/plan/evaluate";
import { defaultPolicyConfigFile, toAnalyzed } from "../../src/plan/policies";
import { readStackFile } from "../../src/plan/stackFile";
import { analyzeRequest, analyzeStackRequest, AnalyzerSession } from "../../src/policy/analyzer";
import { loadPolicyConfig, reconcilePolicyConfig } from "../../src/policy/packConfig";
import { startPack } from "../../src/policy/packProcess";
import { BENCHMARKS_FILE, machine, writeSection } from "../benchmarksFile";

const ROOT = resolve(__dirname, "..", "..");
/** The issue's goal: at most 1 ms of policy evaluation per resource, start-up excluded. */
const GOAL_MS_PER_RESOURCE = 1;

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
    .replace(/^.*\) /, "")
    .split(" ");
  // After the command: state is field 3, utime and stime fields 14 and 15 (1-based), here 11 and 12 (0-based).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "20" }, json: { type: "boolean", default: false } } });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1000) throw new Error(`--rounds must be an integer from 1 to 1000 (found ${values.rounds})`);

  const evaluation = await evaluateStack(readStackFile(join(ROOT, "Pulumi.production.yaml"), "production"), () => import("../../src/index"));
  if (!evaluation.ok) throw new Error(`the production stack does not evaluate: ${evaluation.problems.map((p) => `${p.key}: ${p.problem}`).join("; ")}`);
  const inputs = evaluation.resources.map((r) => toAnalyzed(r, "inputs"));
  const outputs = evaluation.resources.map((r) => toAnalyzed(r, "outputs"));

  const t0 = performance.now();
  const pack = await startPack(join(ROOT, "policies"));
  const session = new AnalyzerSession(pack.address);
  try {
    const info = await session.info();
    const configFile = defaultPolicyConfigFile("production");
    const { config } = reconcilePolicyConfig(info, configFile ? loadPolicyConfig(configFile) : {}, configFile);
    await session.configure(config);
    await session.configureStack({ stack: "production", project: PROJECT, dryRun: true });
    const startupMs = performance.now() - t0;

    // Requests are built once, as the engine would (in Go, so this client's JavaScript serialization is not the pack's time).
    const requests = inputs.map(analyzeRequest);
    const stackRequest = analyzeStackRequest(outputs);
    // The first round warms ts-node's compiled policies and the JIT; it is not counted.
    const perResource: number[] = [];
    const roundMs: number[] = [];
    const stackMs: number[] = [];
    // The pack's CPU is read per batch of rounds (five batches): a batch is long enough for the 10 ms clock ticks, and the
    // median batch is not moved by one noisy stretch on two shared cores.
    const batch = Math.max(1, Math.floor(rounds / 5));
    const batchCpuMs: number[] = [];
    let cpuMark = 0;
    for (let round = 0; round <= rounds; round++) {
      if (round === 1) cpuMark = cpuMs(pack.pid);
      const started = performance.now();
      const times: number[] = [];
      for (const req of requests) {
        const s = performance.now();
        await session.send(req);
        times.push(performance.now() - s);
      }
      const s = performance.now();
      await session.sendStack(stackRequest);
      const stack = performance.now() - s;
      if (round === 0) continue;
      perResource.push(...times);
      stackMs.push(stack);
      roundMs.push(performance.now() - started);
      process.stderr.write(`bench:policies: round ${round}/${rounds}: ${(performance.now() - started).toFixed(1)} ms\n`);
      // A batch ends with its last round; rounds past the last whole batch are not counted.
      if (round % batch === 0) {
        const now = cpuMs(pack.pid);
        batchCpuMs.push(now - cpuMark);
        cpuMark = now;
      }
    }
    const n = inputs.length;
    // The pack's own CPU per resource, median batch: what evaluating the policies costs, without this client or the wire.
    const perBatch = batchCpuMs.map((ms) => ms / (batch * n));
    const packCpuMsPerResource = quantile(perBatch, 0.5);
    const result = {
      resources: n,
      policies: info.policies.length,
      rounds,
      startupMs: Math.round(startupMs),
      analyzeMs: { median: quantile(perResource, 0.5), p95: quantile(perResource, 0.95), max: Math.max(...perResource) },
      analyzeStackMs: { median: quantile(stackMs, 0.5), p95: quantile(stackMs, 0.95) },
      msPerResource: { median: quantile(roundMs, 0.5) / n, p95: quantile(roundMs, 0.95) / n },
      packCpuMsPerResource,
      packCpuMsPerResourceByBatch: perBatch,
      goalMsPerResource: GOAL_MS_PER_RESOURCE,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const f = (x: number) => x.toFixed(3);
    // Judged on the pack's own CPU time per resource: the round trip also holds this Node client's protobuf work and the
    // scheduling of two processes on shared cores, which the engine (Go) and a real machine do not add in the same way.
    const met = packCpuMsPerResource <= GOAL_MS_PER_RESOURCE;
    writeSection(
      "policy-benchmark",
      [
        "## Policy evaluation over the analyzer protocol",
        "",
        `Run on ${new Date().toISOString().slice(0, 10)} (${machine()}) with \`npm run bench:policies -- --rounds ${rounds}\`: the production stack's ${n} resources (the offline plan's evaluation of \`Pulumi.production.yaml\`) through the real pack (${result.policies} policies, \`policies/config/production.json\`) over gRPC, one Analyze per resource and one AnalyzeStack per round, as \`pulumi preview --policy-pack\` calls them (requests serialized once beforehand, as the engine would); ${rounds} rounds after one warm-up round. Each time is a full round trip: the pack deserializing, running every policy and answering.`,
        "",
        "| measure | median | p95 |",
        "| --- | --- | --- |",
        `| Analyze, one resource (round trip) | ${f(result.analyzeMs.median)} ms | ${f(result.analyzeMs.p95)} ms |`,
        `| AnalyzeStack, all ${n} resources | ${f(result.analyzeStackMs.median)} ms | ${f(result.analyzeStackMs.p95)} ms |`,
        `| a whole round, per resource (wall clock, this client included) | ${f(result.msPerResource.median)} ms | ${f(result.msPerResource.p95)} ms |`,
        `| **the pack's CPU time per resource** (median of ${perBatch.length} batches of ${batch} rounds; the batches: ${perBatch.map(f).join(", ")} ms) | **${f(packCpuMsPerResource)} ms** | |`,
        "",
        `Goal: at most ${GOAL_MS_PER_RESOURCE} ms per resource, start-up excluded: **${met ? "met" : "not met"}** on the pack's own CPU time (${f(packCpuMsPerResource)} ms per resource, read from /proc). The wall-clock round (${f(result.msPerResource.median)} ms per resource) adds this Node client's protobuf work and two processes sharing two cores; the engine's client is Go. What is left (a CPU profile of the pack, \`node --cpu-prof\`) is mostly protobuf decoding: the SDK decodes a resource's properties again for every policy not bound to one resource type (the pod-template, IAM-member and label policies span several types), and a "not applicable" answer no longer costs an error with a stack per policy and per workload kind (\`policies/lib/notApplicable.ts\`, \`onPodTemplates\`). Start-up (the pack's process, ts-node compiling the policies, info and configuration) took ${result.startupMs} ms, once per preview.`,
        "",
      ].join("\n"),
    );
    process.stderr.write(`bench:policies: wrote ${BENCHMARKS_FILE}\n`);
  } finally {
    session.close();
    await pack.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:policies: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
