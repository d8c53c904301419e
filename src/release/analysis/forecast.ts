import { requestsToShowBelow } from "./eprocess";
import { ALPHA_SHARE } from "./judge";
import { criteriaFor, isAnalysed, type ReleaseSpec } from "../spec";

/** What a rollout will take, predicted before it starts from the configured traffic estimate. */
export interface StepForecast {
  weight: number;
  /** Candidate requests the step needs before its criteria can be shown met. */
  requestsNeeded: number;
  /** Expected dwell, bounded below by the bake time. */
  expectedSeconds: number;
  /** Smallest error-rate ratio (candidate/stable) the comparative test detects with 80% power by the step's end. */
  detectableErrorRatio: number;
  /** True when the step would likely time out (inconclusive) at this traffic. */
  exceedsMax: boolean;
}

export interface Forecast {
  steps: StepForecast[];
  totalSeconds: number;
  assumptions: string;
}

const Z_POWER_80 = 0.8416;

/** One-sided normal quantile (Acklam-style rational approximation is overkill here; bisection on erf). */
function zFor(alpha: number): number {
  const cdf = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));
  let lo = 0;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (1 - cdf(mid) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26, |error| < 1.5e-7.
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

/**
 * Smallest ratio θ a conditional test on e expected bad events detects with
 * 80% power (normal approximation of the binomial split of events between
 * arms with candidate share s).
 */
export function detectableRatio(candidateRequests: number, stableRequests: number, baseRate: number, alpha: number): number {
  if (candidateRequests <= 0 || stableRequests <= 0) return Infinity;
  const s = candidateRequests / (candidateRequests + stableRequests);
  const zA = zFor(alpha);
  for (let theta = 1.01; theta < 1000; theta *= 1.01) {
    const events = baseRate * (candidateRequests * theta + stableRequests);
    const q0 = s;
    const q1 = (s * theta) / (s * theta + 1 - s);
    const power = ((q1 - q0) * Math.sqrt(events) - zA * Math.sqrt(q0 * (1 - q0))) / Math.sqrt(q1 * (1 - q1));
    if (power >= Z_POWER_80) return Math.round(theta * 100) / 100;
  }
  return Infinity;
}

/** Pure: expected duration and sensitivity per step at `rps` requests/s (100% traffic). */
export function forecast(spec: ReleaseSpec, rps: number, baselineErrorRate = 0.001): Forecast {
  const alpha = spec.analysis.alpha;
  const steps: StepForecast[] = [];
  let stableSoFar = 0;
  let candidateSoFar = 0;
  for (const weight of spec.steps) {
    if (!isAnalysed(spec, weight)) {
      steps.push({ weight, requestsNeeded: 0, expectedSeconds: 0, detectableErrorRatio: Infinity, exceedsMax: false });
      continue;
    }
    const c = criteriaFor(spec, weight);
    // The evidence rule: the step's criteria shown with confidence, and at least minStepRequests (blue-green's bake included).
    const needed = Math.max(requestsToShowBelow(c.errorRate, alpha, baselineErrorRate), requestsToShowBelow(0.05, alpha, 0.01), spec.minStepRequests);
    const candidateRps = (rps * weight) / 100;
    const seconds = Math.max(spec.bakeSeconds, candidateRps > 0 ? needed / candidateRps : Infinity);
    candidateSoFar += candidateRps * seconds;
    stableSoFar += (rps - candidateRps) * seconds;
    steps.push({
      weight,
      requestsNeeded: needed,
      expectedSeconds: Math.round(seconds),
      detectableErrorRatio: weight === 100 ? Infinity : detectableRatio(candidateSoFar, stableSoFar, baselineErrorRate, alpha * ALPHA_SHARE.comparativeErrors),
      exceedsMax: seconds > spec.maxStepSeconds,
    });
  }
  return {
    steps,
    totalSeconds: steps.reduce((a, s) => a + s.expectedSeconds, 0),
    assumptions: `${rps} req/s at 100%, baseline error rate ${(baselineErrorRate * 100).toFixed(2)}%, α=${alpha}`,
  };
}

export function describeForecast(f: Forecast): string {
  const min = (s: number) => (s >= 120 ? `${Math.round(s / 60)} min` : `${s} s`);
  const lines = f.steps.map((s) =>
    s.expectedSeconds === 0
      ? `  ${s.weight}%: promotion`
      : `  ${s.weight}%: ~${min(s.expectedSeconds)} (${s.requestsNeeded} candidate requests)${Number.isFinite(s.detectableErrorRatio) ? `, detects error-rate regressions ≥ ${s.detectableErrorRatio}×` : ""}${s.exceedsMax ? " — likely inconclusive within the step limit" : ""}`,
  );
  return [`expected rollout ~${min(f.totalSeconds)} (${f.assumptions}):`, ...lines].join("\n");
}
