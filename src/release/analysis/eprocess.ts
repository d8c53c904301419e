/**
 * Anytime-valid sequential tests on counts (pure math, no I/O).
 *
 * Every test here is a mixture likelihood-ratio e-process: under its null
 * hypothesis the running value E_t is a non-negative supermartingale with
 * E_0 = 1, so by Ville's inequality P(sup_t E_t ≥ 1/α) ≤ α. Checking after
 * every window, as often as we like, therefore keeps the error rate at α;
 * this is what fixed-interval checks (Flagger, Argo) lose, and what the
 * mixture SPRT of Johari et al. and Lindon et al. (Netflix, "Rapid
 * regression detection in software deployments through sequential testing",
 * 2022) keeps.
 */

const GRID = 48;

/** log of a sum of exponentials, weighted, without overflow. */
function logMeanExp(logs: readonly number[], weights: readonly number[]): number {
  let max = -Infinity;
  for (const l of logs) if (l > max) max = l;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logs.length; i++) sum += weights[i]! * Math.exp(logs[i]! - max);
  return max + Math.log(sum);
}

const xlogy = (x: number, y: number) => (x === 0 ? 0 : x * Math.log(y));

// ---------------------------------------------------------------------------
// Comparative test: is the candidate's event rate more than θ0 times stable's?
// ---------------------------------------------------------------------------

/**
 * Candidate vs stable, on bad events (errors, or requests slower than a
 * boundary). Given a window in which the candidate served a share s of the
 * requests, each bad event falls on the candidate with probability
 * q(θ) = sθ / (sθ + 1 − s), where θ is the ratio of the two arms' bad-event
 * rates. Conditioning on the events makes the test free of the unknown base
 * rate, and per-window shares let the weight change between steps.
 *
 * H0: θ ≤ θ0 (no regression beyond the margin) against θ > θ0, mixed over
 * a log-spaced grid of θ from θ0 to 64·θ0 with a prior that favours
 * moderate effects.
 */
export interface RatioTest {
  /** Cumulative log-likelihood ratio of each grid θ against θ0. */
  logLr: number[];
  /** Bad events seen so far on each arm (for the record). */
  candidateEvents: number;
  stableEvents: number;
}

const ratioGrid = (() => {
  const points: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < GRID; i++) {
    // log2 θ/θ0 from 1/16 to 6 (θ/θ0 from ×1.04 to ×64).
    const log2 = (6 * (i + 1)) / GRID;
    points.push(log2);
    // Half-normal prior on log2 θ/θ0 with scale 3: broad, so ×10 regressions are caught about as
    // fast as ×2 ones (scale 1.5 favoured ×1.2..×4 and was slower on large regressions in bench/detection).
    weights.push(Math.exp(-(log2 * log2) / (2 * 3 * 3)));
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return { log2: points, weights: weights.map((w) => w / total) };
})();

export const newRatioTest = (): RatioTest => ({ logLr: new Array<number>(GRID).fill(0), candidateEvents: 0, stableEvents: 0 });

/**
 * Adds one window: the candidate's share of requests and the bad events of
 * each arm. A window with no traffic on one arm carries no information.
 */
export function updateRatioTest(
  test: RatioTest,
  theta0: number,
  window: { candidateRequests: number; stableRequests: number; candidateEvents: number; stableEvents: number },
): RatioTest {
  const { candidateRequests: nc, stableRequests: ns, candidateEvents: x, stableEvents: y } = window;
  if (nc <= 0 || ns <= 0 || x + y === 0) {
    return { ...test, candidateEvents: test.candidateEvents + Math.max(0, x), stableEvents: test.stableEvents + Math.max(0, y) };
  }
  const s = nc / (nc + ns);
  const q = (theta: number) => (s * theta) / (s * theta + 1 - s);
  const q0 = q(theta0);
  const logLr = test.logLr.map((l, i) => {
    const qi = q(theta0 * 2 ** ratioGrid.log2[i]!);
    return l + xlogy(x, qi / q0) + xlogy(y, (1 - qi) / (1 - q0));
  });
  return { logLr, candidateEvents: test.candidateEvents + x, stableEvents: test.stableEvents + y };
}

/** log E_t of the comparative test. */
export const ratioLogEvidence = (test: RatioTest): number => logMeanExp(test.logLr, ratioGrid.weights);

// ---------------------------------------------------------------------------
// One-arm tests on a rate: "above a limit" (guardrails) and "below a limit"
// (step criteria met). Sufficient statistics are (requests, events).
// ---------------------------------------------------------------------------

function bernoulliLogLr(n: number, k: number, p: number, p0: number): number {
  return xlogy(k, p / p0) + xlogy(n - k, (1 - p) / (1 - p0));
}

const unitGrid = Array.from({ length: GRID }, (_, i) => (i + 0.5) / GRID);
const uniformWeights = new Array<number>(GRID).fill(1 / GRID);

/**
 * Evidence that the rate exceeds `limit` (H0: rate ≤ limit), mixing over
 * rates log-spaced in (limit, 1), so several-fold excesses (a broken
 * release) weigh as much as marginal ones. Used by the guardrail kill switch.
 */
export function aboveLimitLogEvidence(requests: number, events: number, limit: number): number {
  if (requests <= 0) return 0;
  const logs = unitGrid.map((u) => bernoulliLogLr(requests, events, limit * Math.pow(1 / limit, u * 0.999), limit));
  return logMeanExp(logs, uniformWeights);
}

/**
 * Evidence that the rate is below `limit` (H0: rate ≥ limit), mixing
 * uniformly over rates in (0, limit). Used to show a step's criteria are met.
 */
export function belowLimitLogEvidence(requests: number, events: number, limit: number): number {
  if (requests <= 0) return 0;
  const logs = unitGrid.map((u) => bernoulliLogLr(requests, events, u * limit, limit));
  return logMeanExp(logs, uniformWeights);
}

/** Requests with zero events needed before `belowLimitLogEvidence` reaches log(1/α): the floor of a step's dwell. */
export function requestsToShowBelow(limit: number, alpha: number, expectedRate = 0): number {
  const target = Math.log(1 / alpha);
  let lo = 1;
  let hi = 1;
  const ev = (n: number) => belowLimitLogEvidence(n, Math.round(n * expectedRate), limit);
  while (ev(hi) < target) {
    hi *= 2;
    if (hi > 1e9) return Infinity;
  }
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (ev(mid) >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
