import { estimateQuantile } from "../../../src/release/analysis/window";
import { measurePerInterval, type Method } from "./method";

/**
 * Flagger's analysis as documented: one check per `interval` over that
 * interval's window, on the canary alone: request-success-rate ≥ 99% and
 * request-duration (P99) ≤ 500 ms; a query with no values counts as a
 * failed check; the canary is rolled back when failed checks reach
 * `threshold`.
 */
export const flagger = (threshold: number): Method => ({
  id: `flagger-t${threshold}`,
  params: `interval 60 s, success rate ≥ 99%, P99 ≤ 500 ms (canary only), no values = failed check, threshold ${threshold}`,
  source:
    threshold === 1
      ? "Flagger: canary analysis defaults (threshold defaults to 1 when unset in the code)"
      : "Flagger docs, canary analysis examples (threshold: 5)",
  run(windows, stepSeconds) {
    let failed = 0;
    return measurePerInterval(windows, stepSeconds, (arm) => {
      const p99 = estimateQuantile(arm, 0.99);
      const ok = arm.requests > 0 && (arm.requests - arm.errors) / arm.requests >= 0.99 && p99 !== undefined && p99 <= 500;
      return !ok && ++failed >= threshold ? "rollback" : undefined;
    });
  },
});
