import { decodeCheckpoint, releaseKeyOf } from "./checkpoint";
import type { RolloutDeps } from "./driver";
import { runSmokeTests } from "./gates/smoke";
import type { PromTemplates } from "./metrics/prometheus";
import type { TrafficSplitInputs } from "./provider/inputs";
import { specFor } from "./provider/wiring";
import type { Router } from "./routers/router";
import { checkSplit, describeExpectation, describeSplit } from "./split";

/**
 * `npm run rollout -- --check`: everything a release will need, asked
 * once, moving nothing. The live split against what a new release
 * expects, the checkpoint, every metrics query for both arms, and the
 * smoke tests on the candidate.
 */
export interface CheckReport {
  ok: boolean;
  checks: { what: string; ok: boolean; detail: string }[];
}

export async function checkRelease(i: TrafficSplitInputs, router: Router, templates: PromTemplates, deps: RolloutDeps): Promise<CheckReport> {
  const checks: CheckReport["checks"] = [];
  const add = (what: string, ok: boolean, detail: string) => checks.push({ what, ok, detail });
  const attempt = async (what: string, fn: () => Promise<{ ok: boolean; detail: string }>) => {
    try {
      const r = await fn();
      add(what, r.ok, r.detail);
    } catch (e) {
      add(what, false, (e as Error).message);
    }
  };
  const spec = specFor(i);
  await attempt("live split", async () => {
    const live = await router.readSplit();
    const e = { stable: i.stable, candidate: i.candidate, low: 0, high: 0 };
    const c = checkSplit(live, e);
    return {
      ok: c.ok,
      detail: `${router.description}: live ${describeSplit(live, [i.stable, i.candidate])}; a new release expects ${describeExpectation(e)}${c.ok ? "" : ` (${c.reason})`}`,
    };
  });
  await attempt("checkpoint", async () => {
    const d = decodeCheckpoint(await router.readCheckpoint(), { target: router.target, steps: spec.steps });
    if (d.kind === "malformed") return { ok: false, detail: `cannot be read: ${d.problem}` };
    if (d.kind === "none") return { ok: true, detail: "none yet (a first release)" };
    const c = d.checkpoint;
    const mine = c.releaseKey === releaseKeyOf(i.stable, i.candidate, i.retryToken);
    return {
      ok: true,
      detail: `${mine ? "this release" : `release ${c.releaseKey}`}: ${c.state.phase} at ${c.state.weight}%${c.leaseUntil > Date.now() && c.state.phase !== "promoted" ? `, held by engine ${c.owner.id} until ${new Date(c.leaseUntil).toISOString()}` : ""}`,
    };
  });
  for (const [arm, revision] of [
    ["candidate", i.candidate],
    ["stable", i.stable],
  ] as const) {
    await attempt(`metrics (${arm} ${revision})`, async () => {
      const t = await deps.metrics.readArm(revision, Date.now());
      return {
        ok: true,
        detail: `${t.requests} requests, ${t.errors} errors so far; latency histogram: ${t.latency.length > 0 ? `${t.latency.length} buckets` : templates.latencyBuckets ? "configured, no buckets" : "none configured (the latency criteria can never be shown: set metrics.templates.latencyBuckets)"}`,
      };
    });
  }
  if (!templates.latencyBuckets)
    add(
      "latency source",
      false,
      "no latency histogram is configured (metrics.templates.latencyBuckets): every step's p95 criterion stays inconclusive and the release rolls back",
    );
  if (spec.gatesBeforeTraffic.includes("smoke")) {
    await attempt("smoke tests", async () => {
      const url = await router.candidateUrl();
      if (!url) return { ok: false, detail: `${router.description} gives the candidate no URL of its own: set the target's candidateUrl` };
      const r = await runSmokeTests(url, i.release.smokeTests);
      return { ok: r.passed, detail: r.summary };
    });
  }
  return { ok: checks.every((c) => c.ok), checks };
}
