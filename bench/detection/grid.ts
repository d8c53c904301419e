import { floorRequests } from "./floor";
import { argo } from "./methods/argo";
import { flagger } from "./methods/flagger";
import { kayenta } from "./methods/kayenta";
import type { Method, Outcome } from "./methods/method";
import { ours, OUR_SETTINGS } from "./methods/ours";
import type { ArmWindow } from "../../src/release/analysis/window";
import { BASELINE, poisson, rng, sampleArm, stream, type ArmModel } from "./streams";

/** The same step plan for every method: 10 minutes at the canary weight, windows of 10 s. */
export const STEP_SECONDS = 600;
export const WINDOW_SECONDS = 10;

export interface Regression {
  id: string;
  label: string;
  model: ArmModel;
}

export const REGRESSIONS: Regression[] = [
  { id: "err-x2", label: "error rate ×2 (0.1% → 0.2%)", model: { ...BASELINE, errorRate: BASELINE.errorRate * 2 } },
  { id: "err-x5", label: "error rate ×5 (0.1% → 0.5%)", model: { ...BASELINE, errorRate: BASELINE.errorRate * 5 } },
  { id: "err-x10", label: "error rate ×10 (0.1% → 1%)", model: { ...BASELINE, errorRate: BASELINE.errorRate * 10 } },
  // Scaling a lognormal's median scales every quantile: p95 +20% and +50%.
  { id: "p95+20", label: "p95 latency +20%", model: { ...BASELINE, medianMs: BASELINE.medianMs * 1.2 } },
  { id: "p95+50", label: "p95 latency +50%", model: { ...BASELINE, medianMs: BASELINE.medianMs * 1.5 } },
];
export const WEIGHTS = [5, 25];
export const RATES = [10, 100, 1000];

export const methods = (): Method[] => [ours(WINDOW_SECONDS), flagger(1), flagger(5), argo(0), argo(2), kayenta()];

export interface Grid {
  badRuns: number;
  healthyRuns: number;
  weights: number[];
  rates: number[];
  regressions: Regression[];
}
export const FULL: Grid = { badRuns: 200, healthyRuns: 1000, weights: WEIGHTS, rates: RATES, regressions: REGRESSIONS };
export const QUICK: Grid = { badRuns: 40, healthyRuns: 200, weights: WEIGHTS, rates: RATES, regressions: REGRESSIONS };

/** Over all runs of a bad candidate; a run that never rolled back counts as never (null). */
export interface Stat {
  median: number | null;
  p95: number | null;
}
export interface ScenarioResult {
  method: string;
  regression: string;
  weight: number;
  rps: number;
  runs: number;
  missRate: number;
  pausedRate: number;
  requests: Stat;
  seconds: Stat;
}
export interface HealthyResult {
  method: string;
  weight: number;
  rps: number;
  runs: number;
  falseRollbackRate: number;
  pausedRate: number;
}
export interface FloorResult {
  regression: string;
  weight: number;
  rps: number;
  requests: number;
  seconds: number;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const v = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return Number.isFinite(v) ? v : null;
}
/** Misses and pauses are Infinity, so a median exists only when most runs were caught. */
const stat = (xs: number[]): Stat => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p95: quantile(s, 0.95) };
};

/** Seed per (scenario, run), shared by every method so they judge the same streams. */
const seedOf = (...parts: (string | number)[]) => {
  let h = 2166136261;
  for (const ch of parts.join("|")) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
};

/** Stable's traffic in the 10 minutes before the rollout (100% on stable), seeded apart from the run's stream. */
function stableHistory(seed: number, rps: number): ArmWindow {
  const rand = rng(seed ^ 0x5bd1e995);
  return sampleArm(rand, poisson(rand, rps * 600), BASELINE);
}

function runMany(method: Method, model: ArmModel, weight: number, rps: number, runs: number, tag: string): Outcome[] {
  const out: Outcome[] = [];
  for (let i = 0; i < runs; i++) {
    const seed = seedOf(tag, weight, rps, i);
    out.push(method.run(stream(seed, rps, weight, model, WINDOW_SECONDS, STEP_SECONDS), STEP_SECONDS, { stableHistory: stableHistory(seed, rps) }));
  }
  return out;
}

export interface BenchResult {
  grid: Grid;
  methods: { id: string; params: string; source: string }[];
  alpha: number;
  scenarios: ScenarioResult[];
  healthy: HealthyResult[];
  floor: FloorResult[];
}

export function runGrid(grid: Grid, progress: (msg: string) => void = () => {}): BenchResult {
  const ms = methods();
  const scenarios: ScenarioResult[] = [];
  const healthy: HealthyResult[] = [];
  const floor: FloorResult[] = [];
  for (const weight of grid.weights) {
    for (const rps of grid.rates) {
      for (const m of ms) {
        const h = runMany(m, BASELINE, weight, rps, grid.healthyRuns, "healthy");
        healthy.push({
          method: m.id,
          weight,
          rps,
          runs: h.length,
          falseRollbackRate: h.filter((o) => o.kind === "rollback").length / h.length,
          pausedRate: h.filter((o) => o.kind === "paused").length / h.length,
        });
      }
      for (const r of grid.regressions) {
        const n = floorRequests(r.model, OUR_SETTINGS.alpha);
        floor.push({ regression: r.id, weight, rps, requests: n, seconds: n / ((rps * weight) / 100) });
        for (const m of ms) {
          const o = runMany(m, r.model, weight, rps, grid.badRuns, r.id);
          const until = (pick: (x: Outcome) => number) => o.map((x) => (x.kind === "rollback" ? pick(x) : Infinity));
          scenarios.push({
            method: m.id,
            regression: r.id,
            weight,
            rps,
            runs: o.length,
            missRate: o.filter((x) => x.kind === "promote").length / o.length,
            pausedRate: o.filter((x) => x.kind === "paused").length / o.length,
            requests: stat(until((x) => x.candidateRequests)),
            seconds: stat(until((x) => x.seconds)),
          });
        }
      }
      progress(`weight ${weight}%, ${rps} req/s done`);
    }
  }
  return { grid, methods: ms.map(({ id, params, source }) => ({ id, params, source })), alpha: OUR_SETTINGS.alpha, scenarios, healthy, floor };
}
