import { describe, expect, it } from "vitest";
import { formatGate, formatStatus, type ReleaseRecord } from "../../src/release/record";

const rolledBack: ReleaseRecord = {
  phase: "rolled-back",
  stableRevision: "api-v1",
  candidateRevision: "api-v2",
  liveCandidateWeight: 0,
  message: "api-v2 rolled-back: step 1/3 (5% to api-v2): comparative:error-rate …",
  failure: { step: 1, weight: 5, gate: "comparative:error-rate", value: 8.5, threshold: 1.1, message: "…" },
  restoreMs: 42,
  startedAt: "2026-11-22T10:00:00.000Z",
  finishedAt: "2026-11-22T10:04:00.000Z",
  steps: [
    {
      step: 1,
      weight: 5,
      outcome: "fail",
      seconds: 240,
      candidateRequests: 900,
      stableRequests: 17100,
      measurements: [
        { gate: "comparative:error-rate", value: 8.5, threshold: 1.1 },
        { gate: "step:error-rate", value: 0.0085, threshold: 0.01 },
      ],
    },
  ],
};

describe("npm run status's text", () => {
  it("says phase, revisions, live share, the failed gate, restore time and each step's figures", () => {
    expect(formatStatus("production", { backend: rolledBack })).toBe(
      [
        "backend: rolled-back; candidate api-v2 carries 0%, stable is api-v1",
        "  api-v2 rolled-back: step 1/3 (5% to api-v2): comparative:error-rate …",
        "  started 2026-11-22T10:00:00.000Z, last change 2026-11-22T10:04:00.000Z, traffic restored to stable in 42 ms",
        "  failed gate: comparative:error-rate at step 1 (5%): value 8.5, threshold 1.1",
        "  step 1 at 5%: fail after 240 s, 900 candidate / 17100 stable requests | comparative:error-rate 8.5× stable's (≤ 1.1×); step:error-rate 0.850% (≤ 1.00%)",
        "",
      ].join("\n"),
    );
  });

  it.each([
    [{ gate: "step:p95-latency", value: 0, threshold: 0.05 }, "step:p95-latency 0.000% of requests over the limit (≤ 5.00%)"],
    [{ gate: "guardrail:p95-latency", value: 0.12, threshold: 0.05 }, "guardrail:p95-latency 12.00% of requests over the limit (≤ 5.00%)"],
    [{ gate: "comparative:latency", value: 1e6, threshold: 1.1 }, "comparative:latency ∞× stable's (≤ 1.1×)"],
    [{ gate: "comparative:latency-baseline", value: 7, threshold: 20 }, "comparative:latency-baseline 7 of 20 requests compared"],
    [{ gate: "guardrail:health", value: 2, threshold: 3 }, "guardrail:health 2 failed checks in a row (< 3)"],
  ])("formats each gate in its own unit: %o", (m, text) => {
    expect(formatGate(m)).toBe(text);
  });

  it("says so when the stack has nothing to shift", () => {
    expect(formatStatus("dev", {})).toBe("stack dev: no release in progress or recorded (no TrafficSplit: nothing to shift)\n");
  });
});
