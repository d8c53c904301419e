/**
 * What a metrics source reports for one revision over one window: request
 * counts and a latency histogram, never pre-averaged rates, so the tests
 * can work on counts.
 */
export interface ArmWindow {
  requests: number;
  /** Requests answered 5xx (or, for WebSockets, closed abnormally). */
  errors: number;
  /** Cumulative histogram: requests with latency ≤ le (ms); the last bucket is +Inf. */
  latency: LatencyBucket[];
}

export interface LatencyBucket {
  le: number;
  count: number;
}

export interface MetricsWindow {
  candidate: ArmWindow;
  stable: ArmWindow;
  /** Optional WebSocket figures, recorded but not gated on. */
  connections?: { candidateActive: number; stableActive: number; candidateAbnormalCloses: number };
}

export const emptyArm = (): ArmWindow => ({ requests: 0, errors: 0, latency: [] });

/** A WebSocket echo probe's outcomes on one arm since its last reading: messages sent, not echoed in time (or lost with their session), and echo times. */
export interface ProbeCounts {
  sent: number;
  failed: number;
  latenciesMs: number[];
}

/**
 * Folds probe outcomes into an arm's window (pure): each message is a
 * request and each lost one an error, so the comparative and guardrail
 * error tests see message loss; echo times join the latency histogram
 * when the window has one (same boundaries).
 */
export function addProbe(arm: ArmWindow, probe: ProbeCounts): ArmWindow {
  const latency = arm.latency.length === 0 ? [] : arm.latency.map((b) => ({ le: b.le, count: b.count + probe.latenciesMs.filter((ms) => ms <= b.le).length }));
  return { requests: arm.requests + probe.sent, errors: arm.errors + probe.failed, latency };
}

/** Keeps counts sane: negative or non-finite values (counter resets, NaN from a query) count as no data. */
export function sanitizeArm(arm: ArmWindow): ArmWindow {
  const ok = (n: number) => Number.isFinite(n) && n >= 0;
  if (!ok(arm.requests) || !ok(arm.errors)) return emptyArm();
  const latency = arm.latency.filter((b) => ok(b.count) && (Number.isFinite(b.le) || b.le === Infinity)).sort((a, b) => a.le - b.le);
  return { requests: Math.round(arm.requests), errors: Math.min(Math.round(arm.errors), Math.round(arm.requests)), latency };
}

/**
 * Requests the latency histogram observed. It can differ from the request
 * counter (another exporter, scraped at another moment), so latency tests
 * count on the histogram alone and never mix the two.
 */
export function timed(arm: ArmWindow): number {
  let total = 0;
  for (const b of arm.latency) total = Math.max(total, b.count);
  return total;
}

/**
 * Observations slower than `thresholdMs`, read off histogram buckets (out
 * of `timed(arm)`). With no bucket exactly at the threshold, `round` picks
 * the bucket below ("down": counts more as slow, the cautious side for
 * showing a criterion is met) or above ("up": counts fewer, the cautious
 * side for failing one).
 */
export function slowerThan(arm: ArmWindow, thresholdMs: number, round: "down" | "up"): number {
  const total = timed(arm);
  if (total === 0) return 0;
  const finite = arm.latency.filter((b) => Number.isFinite(b.le));
  let bucket: LatencyBucket | undefined;
  if (round === "down") {
    for (const b of finite) if (b.le <= thresholdMs) bucket = b;
    if (!bucket) return total;
  } else {
    bucket = finite.find((b) => b.le >= thresholdMs);
    if (!bucket) return 0;
  }
  return Math.max(0, total - bucket.count);
}

/** The smallest bucket boundary at or above the arm's q-quantile, or undefined with too few observations. */
export function quantileBoundary(arm: ArmWindow, q: number, minObservations: number): number | undefined {
  const total = timed(arm);
  if (total < minObservations) return undefined;
  const target = q * total;
  const b = arm.latency.find((x) => Number.isFinite(x.le) && x.count >= target);
  return b?.le;
}

/** Linear-interpolated quantile (ms) from a histogram, for reports only. */
export function estimateQuantile(arm: ArmWindow, q: number): number | undefined {
  const total = timed(arm);
  if (total <= 0) return undefined;
  const target = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of arm.latency) {
    if (b.count >= target) {
      // In the +Inf bucket all we know is "above the last boundary".
      if (!Number.isFinite(b.le)) return Number.isFinite(prevLe) ? prevLe : undefined;
      const span = b.count - prevCount;
      return span <= 0 ? b.le : prevLe + ((target - prevCount) / span) * (b.le - prevLe);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  // Only reached when the buckets are not cumulative: no estimate.
  return undefined;
}

/** Adds two windows of the same arm (histograms must share boundaries; missing ones are merged). */
export function addArms(a: ArmWindow, b: ArmWindow): ArmWindow {
  const les = [...new Set([...a.latency.map((x) => x.le), ...b.latency.map((x) => x.le)])].sort((x, y) => x - y);
  const at = (arm: ArmWindow, le: number) => {
    let c = 0;
    for (const x of arm.latency) if (x.le <= le) c = x.count;
    return c;
  };
  return { requests: a.requests + b.requests, errors: a.errors + b.errors, latency: les.map((le) => ({ le, count: at(a, le) + at(b, le) })) };
}
