import { addArms, estimateQuantile } from "../../../src/release/analysis/window";
import type { ArmWindow } from "../../../src/release/analysis/window";
import { phi } from "../streams";
import { intervals, type Method } from "./method";

/**
 * Two-sided Mann-Whitney U test with the normal approximation, tie
 * correction and continuity correction. Returns the p-value and whether
 * the first sample tends to be larger.
 */
export function mannWhitney(a: number[], b: number[]): { p: number; aLarger: boolean } {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { p: 1, aLarger: false };
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const r = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[k] = r;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  let r1 = 0;
  all.forEach((x, i) => {
    if (x.g === 0) r1 += ranks[i]!;
  });
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (sd === 0) return { p: 1, aLarger: false };
  const z = (Math.abs(u1 - mean) - 0.5) / sd;
  return { p: Math.min(1, 2 * (1 - phi(Math.max(0, z)))), aLarger: u1 > mean };
}

/**
 * A Kayenta-style judge: canary vs baseline on 60 s buckets (error rate and
 * p95 latency per bucket; buckets without data removed), each metric
 * compared with Mann-Whitney U at 98% confidence; a metric fails when the
 * canary is significantly higher; score = share of metrics passing; judged
 * once, at the end of the step; pass at a score of 75.
 */
export const kayenta = (): Method => ({
  id: "kayenta",
  params:
    "60 s buckets, metrics error rate and p95 latency, Mann-Whitney U at 98% confidence (increase is bad), NaN buckets removed, judged at the end of the step, pass score 75",
  source: "Spinnaker/Kayenta docs: NetflixACAJudge (Mann-Whitney classifier, confidence 98, score thresholds pass 75 / marginal 50)",
  run(windows, stepSeconds) {
    const buckets: { c: ArmWindow; b: ArmWindow }[] = [];
    let served = 0;
    let t = 0;
    for (const iv of intervals(windows, 60)) {
      t = iv.t;
      served = iv.candidateRequests;
      buckets.push({ c: iv.windows.map((w) => w.candidate).reduce(addArms), b: iv.windows.map((w) => w.baseline).reduce(addArms) });
    }
    const series = (pick: (a: ArmWindow) => number | undefined, arm: "c" | "b") =>
      buckets.map((x) => pick(x[arm])).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const errorRate = (a: ArmWindow) => (a.requests > 0 ? a.errors / a.requests : undefined);
    const p95 = (a: ArmWindow) => estimateQuantile(a, 0.95);
    const metrics = [errorRate, p95].map((pick) => {
      const r = mannWhitney(series(pick, "c"), series(pick, "b"));
      return r.p < 0.02 && r.aLarger ? "fail" : "pass";
    });
    const score = (100 * metrics.filter((m) => m === "pass").length) / metrics.length;
    return { kind: score >= 75 ? "promote" : "rollback", seconds: Math.max(t, stepSeconds), candidateRequests: served };
  },
});
