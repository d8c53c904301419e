import type { ArmWindow } from "../../src/release/analysis/window";
import { BUCKETS_MS, HEALTHY, normal, poisson, rng, type ArmModel } from "../../test/support/synthetic";

/**
 * Seeded synthetic request streams, sampled per window rather than per
 * request (a 1000 req/s run would otherwise cost millions of draws):
 * arrivals are Poisson, errors Binomial, latencies lognormal and counted
 * into Prometheus-style cumulative histogram buckets (a multinomial draw).
 */

// The same seeded PRNG, draws, buckets and arm models as the test suite's synthetic traffic.
export { normal, poisson, rng, type ArmModel };
/** The stable arm every scenario compares with: the tests' healthy arm. */
export const BASELINE = HEALTHY;

export function binomial(rand: () => number, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  // Exact for small n or small counts; normal approximation where both tails are large.
  if (n < 60 || n * p < 15 || n * (1 - p) < 15) {
    if (n * p < 15 && n >= 60) return Math.min(n, poisson(rand, n * p));
    let k = 0;
    for (let i = 0; i < n; i++) if (rand() < p) k++;
    return k;
  }
  return Math.min(n, Math.max(0, Math.round(n * p + Math.sqrt(n * p * (1 - p)) * normal(rand))));
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 via erf). */
export function phi(z: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(z / Math.SQRT2));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(z * z) / 2);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** Inverse standard normal CDF (Acklam's rational approximation). */
export function phiInv(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const q = p < 0.5 ? p : 1 - p;
  let x: number;
  if (q < 0.02425) {
    const r = Math.sqrt(-2 * Math.log(q));
    x = (((((c[0]! * r + c[1]!) * r + c[2]!) * r + c[3]!) * r + c[4]!) * r + c[5]!) / ((((d[0]! * r + d[1]!) * r + d[2]!) * r + d[3]!) * r + 1);
    x = -x;
  } else {
    const r = q - 0.5;
    const s = r * r;
    x =
      ((((((a[0]! * s + a[1]!) * s + a[2]!) * s + a[3]!) * s + a[4]!) * s + a[5]!) * r) /
      (((((b[0]! * s + b[1]!) * s + b[2]!) * s + b[3]!) * s + b[4]!) * s + 1);
  }
  return p < 0.5 ? x : -x;
}

/** Latency quantile of a model. */
export const quantileMs = (m: ArmModel, q: number) => m.medianMs * Math.exp(m.sigma * phiInv(q));
/** Share of a model's requests slower than `ms`. */
export const shareAbove = (m: ArmModel, ms: number) => 1 - phi((Math.log(ms) - Math.log(m.medianMs)) / m.sigma);

/** One arm's window: n requests, their errors and latency histogram. */
export function sampleArm(rand: () => number, n: number, m: ArmModel): ArmWindow {
  const errors = binomial(rand, n, m.errorRate);
  let remaining = n;
  let massLeft = 1;
  let cum = 0;
  let prevCdf = 0;
  const latency = BUCKETS_MS.map((le) => {
    const cdf = le === Infinity ? 1 : phi((Math.log(le) - Math.log(m.medianMs)) / m.sigma);
    const p = cdf - prevCdf;
    prevCdf = cdf;
    const k = le === Infinity ? remaining : binomial(rand, remaining, massLeft > 0 ? Math.min(1, p / massLeft) : 0);
    remaining -= k;
    massLeft -= p;
    cum += k;
    return { le, count: cum };
  });
  return { requests: n, errors, latency };
}

export interface Window {
  /** Seconds since the step started, at the window's end. */
  t: number;
  candidate: ArmWindow;
  baseline: ArmWindow;
}

/** The windows of one run: `seconds` of traffic at `rps`, `weight` percent to the candidate. */
export function* stream(seed: number, rps: number, weight: number, candidate: ArmModel, windowSeconds: number, seconds: number): Generator<Window> {
  const rand = rng(seed);
  for (let t = windowSeconds; t <= seconds + 1e-9; t += windowSeconds) {
    const total = poisson(rand, rps * windowSeconds);
    const nc = binomial(rand, total, weight / 100);
    yield { t, candidate: sampleArm(rand, nc, candidate), baseline: sampleArm(rand, total - nc, BASELINE) };
  }
}
