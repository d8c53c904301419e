import { BASELINE, phiInv, quantileMs, shareAbove, type ArmModel } from "./streams";

/**
 * The statistical floor: candidate requests an optimal fixed-sample test
 * needs to tell the candidate's rate p1 from the known baseline rate p0 at
 * one-sided level α with the given power (normal approximation):
 * n = ((z₁₋α·√(p0(1−p0)) + z_power·√(p1(1−p1))) / (p1 − p0))².
 * Latency regressions are tested on the share of requests above the
 * baseline's p95 (p0 = 5%).
 */
export function floorRequests(candidate: ArmModel, alpha = 0.05, power = 0.8): number {
  const [p0, p1] =
    candidate.errorRate !== BASELINE.errorRate ? [BASELINE.errorRate, candidate.errorRate] : [0.05, shareAbove(candidate, quantileMs(BASELINE, 0.95))];
  const za = phiInv(1 - alpha);
  const zb = phiInv(power);
  return Math.ceil(((za * Math.sqrt(p0 * (1 - p0)) + zb * Math.sqrt(p1 * (1 - p1))) / (p1 - p0)) ** 2);
}
