/**
 * Rollback wall time and cut requests on the proving ground: real HAProxy,
 * two sample backends answering in ~40 ms (so requests are in flight when
 * the rollback comes), a probe at 200 req/s on loopback. Each run puts the
 * candidate at 50%, then the HAProxy router rolls back, alternately on the
 * immediate path (guardrail rollbacks: the candidate's sessions are shut at
 * once) and the drain path (statistical rollbacks: new requests go to
 * stable, open ones finish, then what is left is closed); measured from the
 * rollback decision to (a) the router call returning and (b) the last probe
 * request that was sent after the decision and still answered by the
 * candidate, and the probe requests that failed (cut).
 *
 *   npm run bench:rollback [-- --runs 20] [--json]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { HaproxyRouter } from "../../src/release/routers/haproxy";
import type { CheckpointWrite, DrainPlan } from "../../src/release/routers/router";
import { ProvingGround } from "../../test/support/provingGround";
import { BENCHMARKS_FILE, machine, writeSection } from "../benchmarksFile";

interface Sample {
  sentAt: number;
  version: string;
}

/** Fires requests at `rps` until stopped (bounded by `maxMs`), recording who answered each. */
function probe(url: string, rps: number, maxMs: number) {
  const samples: Sample[] = [];
  let stopped = false;
  const started = performance.now();
  const done = (async () => {
    const inflight = new Set<Promise<void>>();
    for (let i = 0; !stopped && performance.now() - started < maxMs; i++) {
      const sentAt = performance.now();
      const p = fetch(url, { signal: AbortSignal.timeout(3000) })
        .then(async (r) => {
          await r.arrayBuffer();
          samples.push({ sentAt, version: r.headers.get("x-version") ?? "none" });
        })
        .catch(() => void samples.push({ sentAt, version: "error" }))
        .finally(() => inflight.delete(p));
      inflight.add(p);
      await new Promise((r) => setTimeout(r, Math.max(0, started + ((i + 1) * 1000) / rps - performance.now())));
    }
    await Promise.all(inflight);
  })();
  return { samples, stop: () => void (stopped = true), done };
}

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)]!;

/** The bench writes no real checkpoint: nothing else reads it. */
const write = (): CheckpointWrite => ({ text: "{}", guard: () => undefined });

interface PathResult {
  runs: number;
  routerCallMs: { median: number; p95: number; max: number };
  lastCandidateRequestMs: { median: number; p95: number; max: number };
  probes: number;
  candidateAnswersAfterDecision: number;
  /** Probe requests that failed: cut by the rollback (all of them sent before the decision and still in flight). */
  cut: number;
}

async function main() {
  const { values } = parseArgs({
    options: { runs: { type: "string", default: "20" }, json: { type: "boolean", default: false }, "drain-seconds": { type: "string", default: "5" } },
  });
  const runs = Math.max(1, Math.min(200, Number(values.runs)));
  const drainMs = Math.max(0, Number(values["drain-seconds"])) * 1000;
  // ~40 ms per request: at 200 req/s about 8 requests are in flight at any moment, half of them on the candidate.
  const ground = await ProvingGround.start({
    blue: { version: "stable", faults: ["--base-latency-ms", "40"] },
    green: { version: "candidate", faults: ["--base-latency-ms", "40"] },
    active: "blue",
  });
  const router = new HaproxyRouter({
    runtimeApi: ground.haproxy.runtimeApi,
    backend: "be_app",
    stableServer: "blue",
    candidateServer: "green",
    stateFile: join(ground.haproxy.dir, "bench-state.json"),
  });
  const measured: Record<"immediate" | "drain", { restoreMs: number[]; lastCandidateMs: number[]; probes: number; candidateAfter: number; cut: number }> = {
    immediate: { restoreMs: [], lastCandidateMs: [], probes: 0, candidateAfter: 0, cut: 0 },
    drain: { restoreMs: [], lastCandidateMs: [], probes: 0, candidateAfter: 0, cut: 0 },
  };
  try {
    for (let i = 0; i < runs * 2; i++) {
      const mode = i % 2 === 0 ? "immediate" : "drain";
      const plan: DrainPlan = mode === "drain" ? { mode, drainMs } : { mode };
      const m = measured[mode];
      await router.setWeight(50, write());
      const p = probe(`${ground.haproxy.frontend}/api`, 200, 10_000 + drainMs);
      await new Promise((r) => setTimeout(r, 500));
      const decision = performance.now();
      await router.rollback(write(), plan);
      const returned = performance.now();
      await new Promise((r) => setTimeout(r, 500));
      p.stop();
      await p.done;
      m.restoreMs.push(returned - decision);
      const late = p.samples.filter((s) => s.sentAt >= decision && s.version === "candidate").map((s) => s.sentAt - decision);
      m.lastCandidateMs.push(late.length ? Math.max(...late) : 0);
      m.candidateAfter += late.length;
      m.probes += p.samples.length;
      const cut = p.samples.filter((s) => s.version === "error").length;
      m.cut += cut;
      process.stderr.write(
        `bench:rollback: run ${Math.floor(i / 2) + 1}/${runs} (${mode}): router ${m.restoreMs.at(-1)!.toFixed(1)} ms, ${cut} request(s) cut\n`,
      );
    }
  } finally {
    await ground.stop();
  }
  const summary = (m: (typeof measured)["drain"]): PathResult => ({
    runs,
    routerCallMs: { median: q(m.restoreMs, 0.5), p95: q(m.restoreMs, 0.95), max: Math.max(...m.restoreMs) },
    lastCandidateRequestMs: { median: q(m.lastCandidateMs, 0.5), p95: q(m.lastCandidateMs, 0.95), max: Math.max(...m.lastCandidateMs) },
    probes: m.probes,
    candidateAnswersAfterDecision: m.candidateAfter,
    cut: m.cut,
  });
  const result = { drainSeconds: drainMs / 1000, immediate: summary(measured.immediate), drain: summary(measured.drain) };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const f = (x: number) => x.toFixed(1);
  const row = (label: string, r: PathResult) =>
    `| ${label} | ${f(r.routerCallMs.median)} / ${f(r.routerCallMs.p95)} / ${f(r.routerCallMs.max)} ms | ${f(r.lastCandidateRequestMs.median)} / ${f(r.lastCandidateRequestMs.p95)} / ${f(r.lastCandidateRequestMs.max)} ms | ${r.probes} | ${r.cut} |`;
  const section = [
    "## Rollback wall time on the proving ground",
    "",
    `Run on ${new Date().toISOString().slice(0, 10)} (${machine()}) with \`npm run bench:rollback -- --runs ${runs}\`: real HAProxy from Debian's package, backends answering in ~40 ms, candidate at 50%, a probe at 200 req/s on loopback, ${runs} rollbacks on each path, alternating.`,
    "",
    "- **immediate** (guardrail rollbacks: error rate or p95 over the guardrails, failed health checks, smoke failures, a failed move): both weights set and read back, then the candidate's sessions shut at once.",
    `- **drain** (statistical rollbacks: a comparative regression within the guardrails, an inconclusive step, the deadline): the same weights, then the candidate's open sessions get up to ${drainMs / 1000} s (\`drainSeconds\`; 30 s by default) to end on their own before what is left is shut.`,
    "",
    "| Path | router call returns (median / p95 / max) | last candidate answer to a request sent after the decision (median / p95 / max) | probe requests | cut (failed) |",
    "| --- | --- | --- | --- | --- |",
    row("immediate", result.immediate),
    row("drain", result.drain),
    "",
    `On the drain path the router call includes the drain: it returns when the candidate has no open session left (polled every 250 ms, hence the ~250 ms), and new requests go to stable from the first command. Requests cut on the immediate path were in flight on the candidate when its sessions were shut (the price of closing a bad candidate's connections at once). The engine adds at most one metrics interval between the data that fails a gate and the decision (1 s on the proving ground, 15 s by default).`,
    "",
  ].join("\n");
  writeSection("rollback-benchmark", section);
  process.stderr.write(`bench:rollback: wrote ${BENCHMARKS_FILE}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:rollback: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
