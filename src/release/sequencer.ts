import { describeMeasurement, judge, newEvidence, observe, startStep, type AnalysisSettings, type Evidence, type Measurement, type StepCriteria } from "./analysis/judge";
import type { ArmWindow, MetricsWindow } from "./analysis/window";

/**
 * The release sequencer: a pure state machine (state, observation) →
 * (state, actions). It never performs I/O; the driver carries out its
 * actions (move weights, run gates, notify) and feeds back observations.
 * Its state is plain data so it can be checkpointed on the target itself.
 */

export type Strategy = "direct" | "blue-green" | "canary";
export type TrafficGate = "smoke" | "pre-rollout" | "confirm-rollout";
export type PromotionGate = "confirm-promotion" | "manual-approval";
export type GateName = TrafficGate | PromotionGate;

export interface ReleaseSpec {
  strategy: Strategy;
  /** Candidate weights in order; the last is 100. */
  steps: number[];
  /** Minimum dwell per analysed step; for blue-green also the monitoring time at 100%. */
  bakeSeconds: number;
  /** After this long without a verdict a step is inconclusive. */
  maxStepSeconds: number;
  onInconclusive: "rollback" | "hold";
  /** Off: a failed gate holds traffic where it is for a person to decide. */
  autoRollback: boolean;
  analysis: AnalysisSettings;
  /** Criteria by the smallest weight they apply from (sorted ascending). */
  stepCriteria: { fromWeight: number; criteria: StepCriteria }[];
  metricsUnavailableLimitSeconds: number;
  gatesBeforeTraffic: TrafficGate[];
  gatesBeforePromotion: PromotionGate[];
}

/** `switching`: the final move to 100% is in flight; the rollout is promoted only once the router reports it done. */
export type Phase = "gating" | "analysing" | "promoting" | "switching" | "held" | "promoted" | "rolled-back" | "rejected";
export const TERMINAL: readonly Phase[] = ["promoted", "rolled-back", "rejected"];

export interface StepRecord {
  step: number;
  weight: number;
  startedAt: number;
  endedAt?: number;
  outcome?: "pass" | "fail" | "timeout" | "aborted";
  candidateRequests: number;
  stableRequests: number;
  measurements: Measurement[];
}

export interface Failure {
  step: number;
  weight: number;
  gate: string;
  value: number | string;
  threshold: number | string;
  message: string;
}

export interface RolloutState {
  schema: 1;
  stable: string;
  candidate: string;
  phase: Phase;
  /** Index into spec.steps of the step in progress; -1 before any traffic. */
  stepIndex: number;
  /** The candidate weight the router must carry in this state. */
  weight: number;
  /** Index of the next pending gate (gating / promoting phases). */
  gateIndex: number;
  stepStartedAt: number;
  startedAt: number;
  updatedAt: number;
  /** While the metrics source is down: since when. */
  unavailableSince: number | null;
  healthFailures: number;
  /** Phase to return to when a hold is released. */
  heldFrom: Phase | null;
  evidence: Evidence;
  records: StepRecord[];
  failure: Failure | null;
  /** Gates passed before traffic, for the record. */
  gatesPassed: string[];
}

export type Observation =
  | { kind: "gate"; at: number; gate: GateName; passed: boolean; detail: string }
  | { kind: "metrics"; at: number; window: MetricsWindow }
  | { kind: "metrics-unavailable"; at: number; error: string }
  | { kind: "health"; at: number; ok: boolean; detail: string }
  | { kind: "approval"; at: number; approved: boolean; by: string }
  | { kind: "abort"; at: number; reason: string }
  /** The router carried out a set-weight action. */
  | { kind: "moved"; at: number; weight: number }
  /** The router gave up on a set-weight action (after its own retries): the split may be half moved. */
  | { kind: "move-failed"; at: number; weight: number; error: string };

export type Action =
  | { kind: "set-weight"; weight: number; step: number }
  | { kind: "rollback"; reason: string }
  | { kind: "check-gate"; gate: GateName }
  | { kind: "await-approval"; reason: string }
  | { kind: "notify"; event: "rollout-started" | "step-passed" | "promoted" | "rolled-back" | "held" }
  | { kind: "done"; phase: Phase };

export interface Decision {
  state: RolloutState;
  actions: Action[];
}

/** Criteria for a weight: the entry with the largest fromWeight ≤ weight, else the first. */
export function criteriaFor(spec: ReleaseSpec, weight: number): StepCriteria {
  let chosen = spec.stepCriteria[0]!.criteria;
  for (const c of spec.stepCriteria) if (c.fromWeight <= weight) chosen = c.criteria;
  return chosen;
}

const isAnalysed = (spec: ReleaseSpec, weight: number) => weight < 100 || spec.strategy === "blue-green";

/** `stableHistory`: stable's latency histogram before the rollout (see newEvidence), when the metrics source has it. */
export function start(spec: ReleaseSpec, stable: string, candidate: string, now: number, stableHistory?: ArmWindow): Decision {
  const state: RolloutState = {
    schema: 1,
    stable,
    candidate,
    phase: "gating",
    stepIndex: -1,
    weight: 0,
    gateIndex: 0,
    stepStartedAt: now,
    startedAt: now,
    updatedAt: now,
    unavailableSince: null,
    healthFailures: 0,
    heldFrom: null,
    evidence: newEvidence(stableHistory),
    records: [],
    failure: null,
    gatesPassed: [],
  };
  return nextGateOrTraffic(spec, state, now, [{ kind: "notify", event: "rollout-started" }]);
}

function nextGateOrTraffic(spec: ReleaseSpec, state: RolloutState, now: number, actions: Action[]): Decision {
  const gate = spec.gatesBeforeTraffic[state.gateIndex];
  if (gate) return { state: { ...state, phase: "gating", updatedAt: now }, actions: [...actions, { kind: "check-gate", gate }] };
  return enterStep(spec, state, 0, now, actions);
}

function enterStep(spec: ReleaseSpec, state: RolloutState, index: number, now: number, actions: Action[]): Decision {
  const weight = spec.steps[index]!;
  if (weight === 100 && spec.gatesBeforePromotion.length > 0 && state.phase !== "promoting") {
    return { state: { ...state, phase: "promoting", gateIndex: 0, updatedAt: now }, actions: [...actions, { kind: "check-gate", gate: spec.gatesBeforePromotion[0]! }] };
  }
  const record: StepRecord = { step: index, weight, startedAt: now, candidateRequests: 0, stableRequests: 0, measurements: [] };
  const next: RolloutState = {
    ...state,
    phase: "analysing",
    stepIndex: index,
    weight,
    gateIndex: 0,
    stepStartedAt: now,
    updatedAt: now,
    evidence: startStep(state.evidence),
    records: [...state.records, record],
  };
  const moved: Action[] = [...actions, { kind: "set-weight", weight, step: index }];
  if (weight === 100 && !isAnalysed(spec, 100)) return { state: { ...next, phase: "switching" }, actions: moved };
  return { state: next, actions: moved };
}

function closeRecord(records: StepRecord[], now: number, outcome: StepRecord["outcome"], measurements?: Measurement[]): StepRecord[] {
  if (records.length === 0) return records;
  const last = records[records.length - 1]!;
  if (last.endedAt !== undefined) return records;
  return [...records.slice(0, -1), { ...last, endedAt: now, outcome, ...(measurements ? { measurements } : {}) }];
}

function finish(state: RolloutState, phase: "promoted" | "rolled-back" | "rejected", now: number, actions: Action[]): Decision {
  const event = phase === "promoted" ? "promoted" : "rolled-back";
  return { state: { ...state, phase, updatedAt: now, heldFrom: null }, actions: [...actions, { kind: "notify", event }, { kind: "done", phase }] };
}

/** Stops the rollout on a failed gate: back to stable (or held, with auto-rollback off). */
function fail(spec: ReleaseSpec, state: RolloutState, failure: Failure, now: number, outcome: StepRecord["outcome"] = "fail"): Decision {
  const records = closeRecord(state.records, now, outcome);
  const failed = { ...state, records, failure };
  if (state.weight === 0 && state.stepIndex < 0) return finish({ ...failed, weight: 0 }, "rejected", now, []);
  if (!spec.autoRollback) return hold(failed, now, `auto-rollback is off: ${failure.message}`);
  return finish({ ...failed, weight: 0 }, "rolled-back", now, [{ kind: "rollback", reason: failure.message }]);
}

function hold(state: RolloutState, now: number, reason: string): Decision {
  return { state: { ...state, phase: "held", heldFrom: state.phase === "held" ? state.heldFrom : state.phase, updatedAt: now }, actions: [{ kind: "notify", event: "held" }, { kind: "await-approval", reason }] };
}

export function failureMessage(spec: ReleaseSpec, state: RolloutState, m: Measurement): Failure {
  const weight = state.weight;
  const text = describeMeasurement(m, { guardrailMs: spec.analysis.guardrails.p95LatencyMs, stepMs: criteriaFor(spec, weight).p95LatencyMs });
  return {
    step: state.stepIndex + 1,
    weight,
    gate: m.gate,
    // JSON (checkpoints, Pulumi state) has no Infinity.
    value: Number.isFinite(m.value) ? m.value : String(m.value),
    threshold: m.threshold,
    message: `step ${state.stepIndex + 1}/${spec.steps.length} (${weight}% to ${state.candidate}): ${text}`,
  };
}

/** The transition function. Unknown or out-of-phase observations change nothing. */
export function decide(spec: ReleaseSpec, state: RolloutState, obs: Observation): Decision {
  const now = obs.at;
  if (TERMINAL.includes(state.phase)) return { state, actions: [] };

  if (obs.kind === "abort") {
    const failure: Failure = { step: state.stepIndex + 1, weight: state.weight, gate: "abort", value: "requested", threshold: "-", message: `aborted at ${state.weight}%: ${obs.reason}` };
    const records = closeRecord(state.records, now, "aborted");
    if (state.stepIndex < 0) return finish({ ...state, records, failure }, "rejected", now, []);
    return finish({ ...state, records, failure, weight: 0 }, "rolled-back", now, [{ kind: "rollback", reason: obs.reason }]);
  }

  if (obs.kind === "move-failed") {
    // Rolled back even with auto-rollback off: after a failed move nobody knows the split, and stable is the known-good one.
    const failure: Failure = {
      step: state.stepIndex + 1,
      weight: obs.weight,
      gate: "traffic-router",
      value: "failed",
      threshold: `${obs.weight}%`,
      message: `step ${state.stepIndex + 1}/${spec.steps.length} (${obs.weight}% to ${state.candidate}): the traffic router failed to move traffic: ${obs.error}`,
    };
    return finish({ ...state, records: closeRecord(state.records, now, "aborted"), failure, weight: 0 }, "rolled-back", now, [{ kind: "rollback", reason: failure.message }]);
  }
  if (obs.kind === "moved") {
    if (state.phase !== "switching" || obs.weight !== 100) return { state, actions: [] };
    return finish({ ...state, records: closeRecord(state.records, now, "pass") }, "promoted", now, []);
  }

  switch (state.phase) {
    case "gating":
    case "promoting": {
      if (obs.kind !== "gate") return { state, actions: [] };
      const list: GateName[] = state.phase === "gating" ? spec.gatesBeforeTraffic : spec.gatesBeforePromotion;
      if (obs.gate !== list[state.gateIndex]) return { state, actions: [] };
      if (!obs.passed) {
        const failure: Failure = { step: state.stepIndex + 1, weight: state.weight, gate: obs.gate, value: "failed", threshold: "pass", message: `${obs.gate} gate failed before ${state.phase === "gating" ? "any traffic" : "promotion"}: ${obs.detail}` };
        // A person can still approve a manual gate later; a webhook's "no" is final.
        return fail(spec, state, failure, now);
      }
      const advanced = { ...state, gateIndex: state.gateIndex + 1, gatesPassed: [...state.gatesPassed, obs.gate], updatedAt: now };
      if (state.phase === "gating") return nextGateOrTraffic(spec, advanced, now, []);
      const gate = spec.gatesBeforePromotion[advanced.gateIndex];
      if (gate) return { state: advanced, actions: [{ kind: "check-gate", gate }] };
      return enterStep(spec, advanced, spec.steps.length - 1, now, []);
    }

    case "held": {
      if (obs.kind !== "approval") return { state, actions: [] };
      if (!obs.approved) {
        const failure: Failure = state.failure ?? { step: state.stepIndex + 1, weight: state.weight, gate: "manual-approval", value: "rejected", threshold: "approve", message: `rejected by ${obs.by}` };
        if (state.stepIndex < 0) return finish({ ...state, failure }, "rejected", now, []);
        return finish({ ...state, failure, weight: 0 }, "rolled-back", now, [{ kind: "rollback", reason: failure.message }]);
      }
      // Approval after an inconclusive step moves on to the next step; a failure cannot be approved away.
      if (state.failure) return { state, actions: [{ kind: "await-approval", reason: "a failed gate can only be rejected (rolled back), not approved" }] };
      const resumed = { ...state, phase: state.heldFrom ?? "analysing", heldFrom: null, updatedAt: now };
      return advanceStep(spec, resumed, now, []);
    }

    case "analysing":
      return analyse(spec, state, obs);
  }
  return { state, actions: [] };
}

function advanceStep(spec: ReleaseSpec, state: RolloutState, now: number, actions: Action[]): Decision {
  const next = state.stepIndex + 1;
  if (next >= spec.steps.length) return finish(state, "promoted", now, actions);
  return enterStep(spec, state, next, now, actions);
}

function analyse(spec: ReleaseSpec, state: RolloutState, obs: Observation): Decision {
  const now = obs.at;
  const criteria = criteriaFor(spec, state.weight);
  const elapsed = (now - state.stepStartedAt) / 1000;

  if (obs.kind === "health") {
    const healthFailures = obs.ok ? 0 : state.healthFailures + 1;
    const limit = spec.analysis.guardrails.consecutiveHealthFailures;
    if (healthFailures >= limit) {
      const m: Measurement = { gate: "guardrail:health", value: healthFailures, threshold: limit, logEvidence: Infinity, logBar: 0 };
      return fail(spec, { ...state, healthFailures }, { ...failureMessage(spec, state, m), message: `${failureMessage(spec, state, m).message}; last: ${obs.detail}` }, now);
    }
    return { state: { ...state, healthFailures, updatedAt: now }, actions: [] };
  }

  if (obs.kind === "metrics-unavailable") {
    const since = state.unavailableSince ?? now;
    const down = (now - since) / 1000;
    if (down >= spec.metricsUnavailableLimitSeconds) {
      const failure: Failure = {
        step: state.stepIndex + 1,
        weight: state.weight,
        gate: "metrics-unavailable",
        value: `${Math.round(down)} s`,
        threshold: `${spec.metricsUnavailableLimitSeconds} s`,
        message: `step ${state.stepIndex + 1}/${spec.steps.length} (${state.weight}% to ${state.candidate}): metrics unavailable for ${Math.round(down)} s (limit ${spec.metricsUnavailableLimitSeconds} s): ${obs.error}`,
      };
      // Never promote blind: rollback regardless of onInconclusive.
      return fail(spec, { ...state, unavailableSince: since }, { ...failure }, now, "timeout");
    }
    return { state: { ...state, unavailableSince: since, updatedAt: now }, actions: [] };
  }

  if (obs.kind !== "metrics") return { state, actions: [] };

  const comparative = state.weight < 100;
  const evidence = observe(state.evidence, obs.window, spec.analysis, criteria);
  const verdict = judge(evidence, spec.analysis, criteria, { comparative });
  const shown = verdict.outcome === "fail" ? [verdict.because] : verdict.outcome === "pass" ? verdict.measurements : verdict.waitingFor;
  const records = state.records.map((r, i) =>
    i === state.records.length - 1 ? { ...r, candidateRequests: evidence.step.requests, stableRequests: evidence.step.stableRequests, measurements: shown } : r,
  );
  const next: RolloutState = { ...state, evidence, records, unavailableSince: null, updatedAt: now };

  if (verdict.outcome === "fail") return fail(spec, next, failureMessage(spec, next, verdict.because), now);

  // At 100% in blue-green there is no stable traffic left to compare: the bake is a guardrail watch.
  const passed = state.weight === 100 ? elapsed >= spec.bakeSeconds : verdict.outcome === "pass" && elapsed >= spec.bakeSeconds;
  if (passed) {
    const closed = { ...next, records: closeRecord(next.records, now, "pass", shown) };
    return advanceStep(spec, closed, now, [{ kind: "notify", event: "step-passed" }]);
  }
  if (elapsed >= spec.maxStepSeconds) {
    const waiting = verdict.outcome === "inconclusive" ? verdict.waitingFor.map((m) => describeMeasurement(m, { guardrailMs: spec.analysis.guardrails.p95LatencyMs, stepMs: criteria.p95LatencyMs })).join("; ") : "";
    const failure: Failure = {
      step: state.stepIndex + 1,
      weight: state.weight,
      gate: "inconclusive",
      value: `${evidence.step.requests} candidate requests in ${Math.round(elapsed)} s`,
      threshold: `verdict within ${spec.maxStepSeconds} s`,
      message: `step ${state.stepIndex + 1}/${spec.steps.length} (${state.weight}% to ${state.candidate}): no verdict after ${Math.round(elapsed)} s with ${evidence.step.requests} candidate requests; still waiting for ${waiting}`,
    };
    if (spec.onInconclusive === "hold") return hold({ ...next, records: closeRecord(next.records, now, "timeout") }, now, failure.message);
    return fail(spec, next, failure, now, "timeout");
  }
  return { state: next, actions: [] };
}

/**
 * Picks the rollout up after an interruption. The checkpoint says which
 * weight is safe (a step whose entry was earned); the router says what is
 * live. Anything else — no checkpoint for this candidate, or a phase that
 * cannot continue — goes back to stable.
 */
export function resume(spec: ReleaseSpec, state: RolloutState, liveCandidateWeight: number, now: number): Decision {
  if (state.phase === "rolled-back" || state.phase === "rejected") {
    return { state, actions: liveCandidateWeight === 0 ? [] : [{ kind: "rollback", reason: "re-asserting the rollback recorded in the checkpoint" }] };
  }
  if (state.phase === "promoted") return { state, actions: liveCandidateWeight === 100 ? [] : [{ kind: "set-weight", weight: 100, step: spec.steps.length - 1 }] };
  // The final move may or may not have happened: make it again (idempotent); its "moved" promotes.
  if (state.phase === "switching") return { state: { ...state, updatedAt: now }, actions: [{ kind: "set-weight", weight: 100, step: spec.steps.length - 1 }] };
  if (state.phase === "gating") return nextGateOrTraffic(spec, { ...state, weight: 0 }, now, liveCandidateWeight === 0 ? [] : [{ kind: "rollback", reason: "no traffic is earned before the gates pass" }]);
  if (state.phase === "promoting") {
    const gate = spec.gatesBeforePromotion[state.gateIndex]!;
    return { state: { ...state, updatedAt: now }, actions: [...(liveCandidateWeight === state.weight ? [] : [{ kind: "set-weight" as const, weight: state.weight, step: state.stepIndex }]), { kind: "check-gate", gate }] };
  }
  if (state.phase === "held") return { state, actions: [{ kind: "await-approval", reason: "rollout is held; approve or reject it" }] };
  // Analysing: restart the step's clock and counts, keep the rollout-wide evidence.
  const restarted: RolloutState = {
    ...state,
    stepStartedAt: now,
    updatedAt: now,
    unavailableSince: null,
    evidence: startStep(state.evidence),
    records: [...closeRecord(state.records, now, "aborted"), { step: state.stepIndex, weight: state.weight, startedAt: now, candidateRequests: 0, stableRequests: 0, measurements: [] }],
  };
  return { state: restarted, actions: liveCandidateWeight === state.weight ? [] : [{ kind: "set-weight", weight: state.weight, step: state.stepIndex }] };
}

export const isTerminal = (s: RolloutState) => TERMINAL.includes(s.phase);
