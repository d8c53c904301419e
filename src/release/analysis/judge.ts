import { aboveLimitLogEvidence, belowLimitLogEvidence, newRatioTest, ratioLogEvidence, updateRatioTest, type RatioTest } from "./eprocess";
import { addArms, estimateQuantile, quantileBoundary, sanitizeArm, slowerThan, timed, type ArmWindow, type MetricsWindow } from "./window";

/** Absolute limits that roll back at once, checked on every window. */
export interface Guardrails {
  errorRate: number;
  p95LatencyMs: number;
  consecutiveHealthFailures: number;
}

/** What a step must show before traffic moves on. */
export interface StepCriteria {
  errorRate: number;
  p95LatencyMs: number;
}

export interface AnalysisSettings {
  /** Overall false-rollback budget for a healthy candidate. */
  alpha: number;
  /** Relative regression allowed before the comparative tier fails (0.1 = candidate may be 10% worse). */
  comparativeMargin: number;
  guardrails: Guardrails;
}

/** How α is spent across the tests that can fail a healthy candidate (union bound: the sum is α). */
export const ALPHA_SHARE = { comparativeErrors: 0.45, comparativeLatency: 0.45, guardrailErrors: 0.05, guardrailLatency: 0.05 } as const;

/** Stable requests needed before the comparative latency boundary is fixed. */
const BOUNDARY_MIN_REQUESTS = 50;
/**
 * Candidate requests the comparative latency test must have seen (after its
 * boundary is fixed) before a step may pass. Without it a step whose own
 * criteria are met quickly could pass before the comparison had any data:
 * a missing comparison is inconclusive, not a pass.
 */
const COMPARATIVE_MIN_CANDIDATE_REQUESTS = 20;

/** Accumulated evidence of one rollout; plain data, so it can live in a checkpoint. */
export interface Evidence {
  errors: RatioTest;
  latency: RatioTest;
  /** Bucket boundary (ms) at stable's p95, fixed from earlier windows. */
  latencyBoundaryMs: number | null;
  /** Stable's histogram, accumulated only until the boundary is fixed. */
  stableLatencySoFar: MetricsWindow["stable"] | null;
  /** Candidate latency observations the comparative latency test has seen since its boundary was fixed. */
  latencyCandidateRequests: number;
  /**
   * Candidate totals since the first traffic (guardrails). `timed` counts
   * latency observations (the histogram), which latency tests use as their
   * n instead of the request counter, so the two sources never mix.
   */
  candidate: { requests: number; errors: number; timed: number; slow: number };
  stable: { requests: number; errors: number; timed: number };
  /** Candidate totals in the current step (step criteria). */
  step: { requests: number; errors: number; timed: number; slow: number; stableRequests: number };
}

/**
 * Fresh evidence. With `stableHistory` (stable's latency histogram from
 * before the rollout, e.g. its last 10 minutes) the latency boundary is
 * fixed at once, so the comparison starts with the first window instead of
 * waiting for stable's share of the canary's traffic.
 */
export const newEvidence = (stableHistory?: ArmWindow): Evidence => {
  const history = stableHistory ? sanitizeArm(stableHistory) : undefined;
  const boundary = history ? quantileBoundary(history, 0.95, BOUNDARY_MIN_REQUESTS) : undefined;
  return {
    ...emptyEvidence(),
    latencyBoundaryMs: boundary ?? null,
    stableLatencySoFar: boundary === undefined && history && history.latency.length > 0 ? history : null,
  };
};

const emptyStep = (): Evidence["step"] => ({ requests: 0, errors: 0, timed: 0, slow: 0, stableRequests: 0 });

const emptyEvidence = (): Evidence => ({
  errors: newRatioTest(),
  latency: newRatioTest(),
  latencyBoundaryMs: null,
  stableLatencySoFar: null,
  latencyCandidateRequests: 0,
  candidate: { requests: 0, errors: 0, timed: 0, slow: 0 },
  stable: { requests: 0, errors: 0, timed: 0 },
  step: emptyStep(),
});

/** A new step keeps the rollout-wide tests and restarts the step's own counts. */
export const startStep = (e: Evidence): Evidence => ({ ...e, step: emptyStep() });

export type Gate =
  | "guardrail:error-rate"
  | "guardrail:p95-latency"
  | "guardrail:health"
  | "comparative:error-rate"
  | "comparative:latency"
  | "comparative:latency-baseline"
  | "step:error-rate"
  | "step:p95-latency";

/** The figures behind a verdict, for the decision record and the failure message. */
export interface Measurement {
  gate: Gate;
  /** Observed value: a rate (0..1) or milliseconds. */
  value: number;
  threshold: number;
  /** log of the e-value of the test behind the verdict. */
  logEvidence: number;
  /** log(1/α) the evidence had to reach. */
  logBar: number;
}

export type Verdict =
  { outcome: "fail"; because: Measurement } | { outcome: "pass"; measurements: Measurement[] } | { outcome: "inconclusive"; waitingFor: Measurement[] };

const rate = (k: number, n: number) => (n > 0 ? k / n : 0);

/** Folds one window into the evidence (pure). */
export function observe(e: Evidence, raw: MetricsWindow, settings: AnalysisSettings, criteria: StepCriteria): Evidence {
  const c = sanitizeArm(raw.candidate);
  const s = sanitizeArm(raw.stable);
  const theta0 = 1 + settings.comparativeMargin;

  const errors = updateRatioTest(e.errors, theta0, {
    candidateRequests: c.requests,
    stableRequests: s.requests,
    candidateEvents: c.errors,
    stableEvents: s.errors,
  });
  let latency = e.latency;
  // Checkpoints written before this field existed read as 0: the step just waits a little longer.
  let latencyCandidateRequests = e.latencyCandidateRequests ?? 0;
  const ct = timed(c);
  const st = timed(s);
  if (e.latencyBoundaryMs !== null) {
    latencyCandidateRequests += st > 0 ? ct : 0;
    latency = updateRatioTest(e.latency, theta0, {
      candidateRequests: ct,
      stableRequests: st,
      candidateEvents: slowerThan(c, e.latencyBoundaryMs, "up"),
      stableEvents: slowerThan(s, e.latencyBoundaryMs, "up"),
    });
  }
  // Fixed from stable's data up to this window and used only from the next window on, so it stays predictable.
  const stableSoFar = e.latencyBoundaryMs === null ? (e.stableLatencySoFar ? addArms(e.stableLatencySoFar, s) : s) : null;
  const latencyBoundaryMs = e.latencyBoundaryMs ?? (stableSoFar ? quantileBoundary(stableSoFar, 0.95, BOUNDARY_MIN_REQUESTS) : undefined) ?? null;

  return {
    errors,
    latency,
    latencyBoundaryMs,
    stableLatencySoFar: latencyBoundaryMs === null ? stableSoFar : null,
    latencyCandidateRequests,
    candidate: {
      requests: e.candidate.requests + c.requests,
      errors: e.candidate.errors + c.errors,
      timed: (e.candidate.timed ?? 0) + ct,
      slow: e.candidate.slow + slowerThan(c, settings.guardrails.p95LatencyMs, "up"),
    },
    stable: { requests: e.stable.requests + s.requests, errors: e.stable.errors + s.errors, timed: (e.stable.timed ?? 0) + st },
    step: {
      requests: e.step.requests + c.requests,
      errors: e.step.errors + c.errors,
      timed: (e.step.timed ?? 0) + ct,
      // "down": a request counts as slow when it may be above the criterion.
      slow: e.step.slow + slowerThan(c, criteria.p95LatencyMs, "down"),
      stableRequests: e.step.stableRequests + s.requests,
    },
  };
}

/**
 * The verdict on the evidence so far (pure). Fail as soon as any failing
 * test crosses its bar; pass when the step's criteria are shown with
 * confidence 1−α; otherwise inconclusive. Missing data is never a pass and,
 * by itself, never a failure.
 */
export function judge(e: Evidence, settings: AnalysisSettings, criteria: StepCriteria, options: { comparative: boolean }): Verdict {
  const bar = (share: number) => Math.log(1 / (settings.alpha * share));
  const g = settings.guardrails;
  const theta0 = 1 + settings.comparativeMargin;

  const failing: Measurement[] = [
    {
      gate: "guardrail:error-rate",
      value: rate(e.candidate.errors, e.candidate.requests),
      threshold: g.errorRate,
      logEvidence: aboveLimitLogEvidence(e.candidate.requests, e.candidate.errors, g.errorRate),
      logBar: bar(ALPHA_SHARE.guardrailErrors),
    },
    // p95 above the limit ⇔ more than 5% of requests slower than it.
    {
      gate: "guardrail:p95-latency",
      value: rate(e.candidate.slow, e.candidate.timed),
      threshold: 0.05,
      logEvidence: aboveLimitLogEvidence(e.candidate.timed, e.candidate.slow, 0.05),
      logBar: bar(ALPHA_SHARE.guardrailLatency),
    },
  ];
  if (options.comparative) {
    failing.push(
      {
        gate: "comparative:error-rate",
        // Infinity when stable had no errors at all (the message says so instead of a meaningless ratio).
        value: e.errors.stableEvents > 0 ? rate(e.errors.candidateEvents, e.candidate.requests) / rate(e.errors.stableEvents, e.stable.requests) : Infinity,
        threshold: theta0,
        logEvidence: ratioLogEvidence(e.errors),
        logBar: bar(ALPHA_SHARE.comparativeErrors),
      },
      {
        gate: "comparative:latency",
        // Infinity when stable had no request above its own p95 boundary (the message says so).
        value:
          e.latency.stableEvents > 0
            ? rate(e.latency.candidateEvents, e.candidate.timed) / rate(e.latency.stableEvents, e.stable.timed)
            : e.latency.candidateEvents > 0
              ? Infinity
              : 0,
        threshold: theta0,
        logEvidence: ratioLogEvidence(e.latency),
        logBar: bar(ALPHA_SHARE.comparativeLatency),
      },
    );
  }
  const failed = failing.find((m) => m.logEvidence >= m.logBar);
  if (failed) return { outcome: "fail", because: failed };

  const passing: Measurement[] = [
    {
      gate: "step:error-rate",
      value: rate(e.step.errors, e.step.requests),
      threshold: criteria.errorRate,
      logEvidence: belowLimitLogEvidence(e.step.requests, e.step.errors, criteria.errorRate),
      logBar: bar(1),
    },
    {
      gate: "step:p95-latency",
      value: rate(e.step.slow, e.step.timed),
      threshold: 0.05,
      logEvidence: belowLimitLogEvidence(e.step.timed, e.step.slow, 0.05),
      logBar: bar(1),
    },
  ];
  const missing = passing.filter((m) => m.logEvidence < m.logBar);
  if (options.comparative && (e.latencyBoundaryMs === null || e.latencyCandidateRequests < COMPARATIVE_MIN_CANDIDATE_REQUESTS)) {
    // The comparison has not had its chance yet (no stable baseline, or too few candidate requests against it).
    missing.push({
      gate: "comparative:latency-baseline",
      value: e.latencyCandidateRequests,
      threshold: COMPARATIVE_MIN_CANDIDATE_REQUESTS,
      logEvidence: ratioLogEvidence(e.latency),
      logBar: bar(ALPHA_SHARE.comparativeLatency),
    });
  }
  return missing.length === 0 ? { outcome: "pass", measurements: passing } : { outcome: "inconclusive", waitingFor: missing };
}

/** One line a person can act on: which gate, the measured value and the threshold. */
export function describeMeasurement(m: Measurement, latencyLimits: { guardrailMs: number; stepMs: number }): string {
  const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 3 : 2)}%`;
  const ev = `evidence e=${Math.exp(Math.min(m.logEvidence, 700)).toPrecision(3)} vs bar ${Math.exp(m.logBar).toPrecision(3)}`;
  switch (m.gate) {
    case "guardrail:error-rate":
    case "step:error-rate":
      return `${m.gate}: candidate error rate ${pct(m.value)} vs threshold ${pct(m.threshold)} (${ev})`;
    case "guardrail:p95-latency":
      return `${m.gate}: ${pct(m.value)} of candidate requests slower than ${latencyLimits.guardrailMs} ms, so p95 > ${latencyLimits.guardrailMs} ms (allowed 5%; ${ev})`;
    case "step:p95-latency":
      return `${m.gate}: ${pct(m.value)} of candidate requests slower than ${latencyLimits.stepMs} ms (p95 needs ≤ 5%; ${ev})`;
    case "comparative:error-rate":
      return `${m.gate}: candidate error rate ${Number.isFinite(m.value) ? `${m.value.toFixed(2)}× stable's` : "above stable's (stable had no errors)"} vs allowed ${m.threshold.toFixed(2)}× (${ev})`;
    case "comparative:latency":
      return Number.isFinite(m.value)
        ? `${m.gate}: candidate has ${m.value.toFixed(2)}× stable's share of requests slower than stable's p95 vs allowed ${m.threshold.toFixed(2)}× (${ev})`
        : `${m.gate}: candidate requests are slower than stable's p95 while stable had none that slow in the same windows (allowed ${m.threshold.toFixed(2)}× stable's share; ${ev})`;
    case "comparative:latency-baseline":
      return `${m.gate}: ${m.value} of ${m.threshold} candidate requests compared with stable's latency baseline so far (the comparison must have data before a step passes)`;
    case "guardrail:health":
      return `${m.gate}: ${m.value} consecutive failed health checks (threshold ${m.threshold})`;
  }
}

/** p95 estimates for the record (reports only; gates use counts). */
export const p95Of = (w: MetricsWindow) => ({ candidate: estimateQuantile(w.candidate, 0.95), stable: estimateQuantile(w.stable, 0.95) });
