import { describeMeasurement, judge, newEvidence, observe, startStep, type Evidence, type Measurement } from "./analysis/judge";
import type { ArmWindow, MetricsWindow } from "./analysis/window";
import { criteriaFor, isAnalysed, type GateName, type ReleaseSpec } from "./spec";
import { checkSplit, describeExpectation, describeSplit, type LiveSplit, type SplitExpectation } from "./split";

/**
 * The release sequencer: a pure state machine (state, observation) →
 * (state, actions). It never performs I/O; the driver carries out its
 * actions (move weights, run gates, notify) and feeds back observations.
 * Its state is plain data so it can be checkpointed on the target itself.
 */

/**
 * `switching`: the final move to 100% is in flight; the rollout is promoted only once the router reports it done.
 * `confirming`: an analysed 100% step (blue-green's bake) passed; the candidate's health is checked before it is promoted.
 * `interrupted`: the live split was not what the release expected; the engine stopped without moving traffic.
 */
export type Phase = "gating" | "analysing" | "promoting" | "switching" | "confirming" | "held" | "promoted" | "rolled-back" | "rejected" | "interrupted";
export const TERMINAL: readonly Phase[] = ["promoted", "rolled-back", "rejected", "interrupted"];
/** Terminal phases that decided the candidate: a rerun of the same release does not try it again. */
export const DECIDED: readonly Phase[] = ["promoted", "rolled-back", "rejected"];

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

/** A move the router may be in the middle of: the candidate's live share lies between the two. */
export interface Move {
  from: number;
  to: number;
}

export interface RolloutState {
  schema: 2;
  stable: string;
  candidate: string;
  phase: Phase;
  /** Index into spec.steps of the step in progress; -1 before any traffic. */
  stepIndex: number;
  /** The candidate weight the router must carry in this state. */
  weight: number;
  /** Set while a move is asked for and not yet reported done (also kept after a rollback): the split may lie anywhere between. */
  moving: Move | null;
  /** Index of the next pending gate (gating / promoting / confirming phases). */
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
  /** Nobody answered a hold within the approval source's timeout. */
  | { kind: "approval-timeout"; at: number; waitedSeconds: number }
  | { kind: "abort"; at: number; reason: string }
  /** The router's live split, read before a move and every interval. */
  | { kind: "split"; at: number; live: LiveSplit }
  /** The router carried out a set-weight action. */
  | { kind: "moved"; at: number; weight: number }
  /** The router gave up on a set-weight action (after its own retries): the split may be half moved. */
  | { kind: "move-failed"; at: number; weight: number; error: string };

/**
 * `immediate`: the candidate's open connections are closed at once (guardrails, health, smoke, a failed move).
 * `drain`: new connections go to stable at once; open ones get the drain time to end on their own
 * (a statistical regression within the guardrails, an inconclusive step, the deadline).
 */
export type RollbackMode = "immediate" | "drain";

export type Action =
  | { kind: "set-weight"; weight: number; step: number }
  | { kind: "rollback"; reason: string; mode: RollbackMode }
  | { kind: "check-gate"; gate: GateName }
  | { kind: "await-approval"; reason: string }
  | { kind: "notify"; event: "rollout-started" | "step-passed" | "promoted" | "rolled-back" | "held" | "interrupted" }
  | { kind: "done"; phase: Phase };

export interface Decision {
  state: RolloutState;
  actions: Action[];
}

/** "step 2/5 (10% to app-v2)": how every message names a step. */
export const stepLabel = (spec: ReleaseSpec, state: Pick<RolloutState, "stepIndex" | "candidate">, weight: number) =>
  `step ${state.stepIndex + 1}/${spec.steps.length} (${weight}% to ${state.candidate})`;

/** Gates whose failure means the candidate is unhealthy: its connections are closed at once. */
const drainable = (gate: string) => gate.startsWith("comparative:") || gate === "inconclusive" || gate === "abort";
export const rollbackMode = (failure: Failure): RollbackMode => (drainable(failure.gate) ? "drain" : "immediate");

/** `stableHistory`: stable's latency histogram before the rollout (see newEvidence), when the metrics source has it. */
export function start(spec: ReleaseSpec, stable: string, candidate: string, now: number, stableHistory?: ArmWindow): Decision {
  const state: RolloutState = {
    schema: 2,
    stable,
    candidate,
    phase: "gating",
    stepIndex: -1,
    weight: 0,
    moving: null,
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

/** What the live split must look like in this state. */
export function expectation(state: RolloutState): SplitExpectation {
  const m = state.moving;
  const low = m ? Math.min(m.from, m.to, state.weight) : state.weight;
  const high = m ? Math.max(m.from, m.to, state.weight) : state.weight;
  return { stable: state.stable, candidate: state.candidate, low, high };
}

/**
 * The drift lock (pure): the live split either matches the state, or the
 * release stops where it is. A person who changed the split is not fought:
 * no rollback, no move; the record shows both splits.
 */
export function checkLive(spec: ReleaseSpec, state: RolloutState, live: LiveSplit, now: number): Decision | null {
  const e = expectation(state);
  const c = checkSplit(live, e);
  if (c.ok) return null;
  const shown = describeSplit(live, [state.stable, state.candidate]);
  const expected = describeExpectation(e);
  const fresh = state.stepIndex < 0 && state.weight === 0;
  const failure: Failure = failureAt(state, {
    gate: "drift",
    value: shown,
    threshold: expected,
    message:
      `the live split is not what this release expects ${fresh ? "before any traffic moved" : `at ${stepLabel(spec, state, state.weight)}`}: live ${shown}; expected ${expected} (${c.reason}). ` +
      (fresh
        ? `No traffic was moved. If ${state.stable} is not the revision serving today, fix the stable version in the config; if another change is under way, finish or abandon it; then run the update again`
        : `The release stops here and moves no more traffic: the split stays as it is. When it is as you want it, \`npm run rollout -- --restore-stable --force\` puts 100% back on ${state.stable}, and the next update starts this release afresh`) +
      (state.failure ? ` (the release had decided: ${state.failure.message})` : ""),
  });
  return {
    state: { ...state, phase: "interrupted", failure, records: closeRecord(state.records, now, "aborted"), updatedAt: now, heldFrom: null },
    actions: [
      { kind: "notify", event: "interrupted" },
      { kind: "done", phase: "interrupted" },
    ],
  };
}

function nextGateOrTraffic(spec: ReleaseSpec, state: RolloutState, now: number, actions: Action[]): Decision {
  const gate = spec.gatesBeforeTraffic[state.gateIndex];
  if (gate) return { state: { ...state, phase: "gating", updatedAt: now }, actions: [...actions, { kind: "check-gate", gate }] };
  return enterStep(spec, state, 0, now, actions);
}

/**
 * The next gate of the promoting (or confirming) phase, or what comes after
 * them. The manual approval is not a gate the driver answers at once but a
 * hold: the release waits for a person with its guardrails still watching.
 */
function nextPromotionGate(spec: ReleaseSpec, state: RolloutState, now: number, actions: Action[] = []): Decision {
  const gate = gateList(spec, state.phase)[state.gateIndex];
  if (gate === "manual-approval") return hold({ ...state, updatedAt: now }, now, `manual approval before ${state.candidate} gets 100%`, actions);
  if (gate) return { state, actions: [...actions, { kind: "check-gate", gate }] };
  if (state.phase === "confirming") return finish(state, "promoted", now, actions);
  return enterStep(spec, state, spec.steps.length - 1, now, actions);
}

function enterStep(spec: ReleaseSpec, state: RolloutState, index: number, now: number, actions: Action[]): Decision {
  const weight = spec.steps[index]!;
  if (weight === 100 && spec.gatesBeforePromotion.length > 0 && state.phase !== "promoting") {
    return nextPromotionGate(spec, { ...state, phase: "promoting", gateIndex: 0, updatedAt: now }, now, actions);
  }
  const record: StepRecord = { step: index, weight, startedAt: now, candidateRequests: 0, stableRequests: 0, measurements: [] };
  const next: RolloutState = {
    ...state,
    phase: "analysing",
    stepIndex: index,
    weight,
    moving: { from: state.weight, to: weight },
    gateIndex: 0,
    stepStartedAt: now,
    updatedAt: now,
    healthFailures: 0,
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

/** Back to stable: weight 0, and the split may lie anywhere between 0 and the highest weight it could carry now. */
function rollBack(state: RolloutState, failure: Failure, now: number, records = state.records): Decision {
  const high = Math.max(state.weight, state.moving?.from ?? 0, state.moving?.to ?? 0);
  return finish({ ...state, records, failure, weight: 0, moving: { from: high, to: 0 } }, "rolled-back", now, [
    { kind: "rollback", reason: failure.message, mode: rollbackMode(failure) },
  ]);
}

/** Stops the rollout on a failed gate: back to stable (or held, with auto-rollback off). */
function fail(spec: ReleaseSpec, state: RolloutState, failure: Failure, now: number, outcome: StepRecord["outcome"] = "fail"): Decision {
  const records = closeRecord(state.records, now, outcome);
  const failed = { ...state, records, failure };
  if (state.weight === 0 && state.stepIndex < 0) return finish({ ...failed, weight: 0 }, "rejected", now, []);
  if (!spec.autoRollback) return hold(failed, now, `auto-rollback is off: ${failure.message}`);
  return rollBack(failed, failure, now);
}

function hold(state: RolloutState, now: number, reason: string, actions: Action[] = []): Decision {
  return {
    state: { ...state, phase: "held", heldFrom: state.phase === "held" ? state.heldFrom : state.phase, updatedAt: now },
    actions: [...actions, { kind: "notify", event: "held" }, { kind: "await-approval", reason }],
  };
}

export function failureMessage(spec: ReleaseSpec, state: RolloutState, m: Measurement): Failure {
  const weight = state.weight;
  const text = describeMeasurement(m, { guardrailMs: spec.analysis.guardrails.p95LatencyMs, stepMs: criteriaFor(spec, weight).p95LatencyMs });
  return failureAt(state, {
    gate: m.gate,
    // JSON (checkpoints, Pulumi state) has no Infinity.
    value: Number.isFinite(m.value) ? m.value : String(m.value),
    threshold: m.threshold,
    message: `${stepLabel(spec, state, weight)}: ${text}`,
  });
}

/** A failure recorded at the state's step and weight (or at `weight`: a move that failed before it was made). */
export function failureAt(state: Pick<RolloutState, "stepIndex" | "weight">, f: Omit<Failure, "step" | "weight"> & { weight?: number }): Failure {
  return { step: state.stepIndex + 1, weight: f.weight ?? state.weight, gate: f.gate, value: f.value, threshold: f.threshold, message: f.message };
}

const gateList = (spec: ReleaseSpec, phase: Phase): GateName[] =>
  phase === "gating" ? spec.gatesBeforeTraffic : phase === "promoting" ? spec.gatesBeforePromotion : ["candidate-health"];

/** The transition function. Unknown or out-of-phase observations change nothing. */
export function decide(spec: ReleaseSpec, state: RolloutState, obs: Observation): Decision {
  const now = obs.at;
  if (TERMINAL.includes(state.phase)) {
    // A rollback's move reported done: the split is settled at 0 (a later run expects exactly that).
    if (obs.kind === "moved" && obs.weight === state.weight && state.moving) return { state: { ...state, moving: null }, actions: [] };
    return { state, actions: [] };
  }

  if (obs.kind === "split") return checkLive(spec, state, obs.live, now) ?? { state, actions: [] };

  if (obs.kind === "abort") {
    const failure: Failure = failureAt(state, { gate: "abort", value: "requested", threshold: "-", message: `aborted at ${state.weight}%: ${obs.reason}` });
    const records = closeRecord(state.records, now, "aborted");
    if (state.stepIndex < 0) return finish({ ...state, records, failure }, "rejected", now, []);
    return rollBack(state, failure, now, records);
  }

  if (obs.kind === "move-failed") {
    // Rolled back even with auto-rollback off: after a failed move nobody knows the split, and stable is the known-good one.
    const failure: Failure = failureAt(state, {
      weight: obs.weight,
      gate: "traffic-router",
      value: "failed",
      threshold: `${obs.weight}%`,
      message: `${stepLabel(spec, state, obs.weight)}: the traffic router failed to move traffic: ${obs.error}`,
    });
    return rollBack(state, failure, now, closeRecord(state.records, now, "aborted"));
  }
  if (obs.kind === "moved") {
    if (obs.weight !== state.weight) return { state, actions: [] };
    const settled = { ...state, moving: null, updatedAt: now };
    if (state.phase !== "switching" || obs.weight !== 100) return { state: settled, actions: [] };
    return finish({ ...settled, records: closeRecord(state.records, now, "pass") }, "promoted", now, []);
  }

  switch (state.phase) {
    case "gating":
    case "promoting":
    case "confirming": {
      if (obs.kind !== "gate") return { state, actions: [] };
      const list = gateList(spec, state.phase);
      if (obs.gate !== list[state.gateIndex]) return { state, actions: [] };
      if (!obs.passed) {
        const when = state.phase === "gating" ? "before any traffic" : "before promotion";
        const failure: Failure = failureAt(state, {
          gate: obs.gate,
          value: "failed",
          threshold: "pass",
          message: `${obs.gate} gate failed ${when}: ${obs.detail}`,
        });
        // A person can still approve a manual gate later; a webhook's "no" is final.
        return fail(spec, state, failure, now);
      }
      const advanced = { ...state, gateIndex: state.gateIndex + 1, gatesPassed: [...state.gatesPassed, obs.gate], updatedAt: now };
      if (state.phase === "gating") return nextGateOrTraffic(spec, advanced, now, []);
      return nextPromotionGate(spec, advanced, now);
    }

    case "held": {
      // Nobody has answered yet, but the candidate still carries traffic: its guardrails keep watching.
      if (obs.kind === "metrics" || obs.kind === "health") return watchWhileHeld(spec, state, obs);
      if (obs.kind === "approval-timeout") {
        const failure: Failure =
          state.failure ??
          failureAt(state, {
            gate: "inconclusive",
            value: `no answer in ${obs.waitedSeconds} s`,
            threshold: "approval",
            message: `${stepLabel(spec, state, state.weight)}: held for approval and nobody answered within ${obs.waitedSeconds} s`,
          });
        if (state.stepIndex < 0) return finish({ ...state, failure }, "rejected", now, []);
        return rollBack(state, { ...failure, message: `${failure.message}; no approval within ${obs.waitedSeconds} s` }, now);
      }
      if (obs.kind !== "approval") return { state, actions: [] };
      if (!obs.approved) {
        const failure: Failure =
          state.failure ?? failureAt(state, { gate: "manual-approval", value: "rejected", threshold: "approve", message: `rejected by ${obs.by}` });
        if (state.stepIndex < 0) return finish({ ...state, failure }, "rejected", now, []);
        return rollBack(state, failure, now);
      }
      // A failure cannot be approved away; a manual approval goes on with the promotion gates; an inconclusive step moves on.
      if (state.failure) return { state, actions: [{ kind: "await-approval", reason: "a failed gate can only be rejected (rolled back), not approved" }] };
      if (state.heldFrom === "promoting") {
        const approved = {
          ...state,
          phase: "promoting" as const,
          heldFrom: null,
          gateIndex: state.gateIndex + 1,
          gatesPassed: [...state.gatesPassed, "manual-approval"],
          updatedAt: now,
        };
        return nextPromotionGate(spec, approved, now);
      }
      const resumed = { ...state, phase: state.heldFrom ?? "analysing", heldFrom: null, updatedAt: now };
      return advanceStep(spec, resumed, now, []);
    }

    case "analysing":
      return analyse(spec, state, obs);
  }
  return { state, actions: [] };
}

/**
 * A held release at a partial weight: every failing test (guardrails, the
 * comparison) and the health guardrail still apply. A failure rolls back
 * (or, with auto-rollback off, stays held with the failure recorded, so an
 * approval can no longer promote it).
 */
function watchWhileHeld(spec: ReleaseSpec, state: RolloutState, obs: Observation & { kind: "metrics" | "health" }): Decision {
  const now = obs.at;
  if (state.weight === 0) return { state, actions: [] };
  if (obs.kind === "health") {
    const healthFailures = obs.ok ? 0 : state.healthFailures + 1;
    const limit = spec.analysis.guardrails.consecutiveHealthFailures;
    if (healthFailures < limit) return { state: { ...state, healthFailures, updatedAt: now }, actions: [] };
    const m: Measurement = { gate: "guardrail:health", value: healthFailures, threshold: limit, logEvidence: Infinity, logBar: 0 };
    const failure = failureMessage(spec, state, m);
    return failWhileHeld(spec, { ...state, healthFailures }, { ...failure, message: `${failure.message} (while held); last: ${obs.detail}` }, now);
  }
  const criteria = criteriaFor(spec, state.weight);
  const evidence = observe(state.evidence, obs.window, spec.analysis, criteria);
  const verdict = judge(evidence, spec.analysis, criteria, { comparative: state.weight < 100 });
  const next = { ...state, evidence, updatedAt: now };
  if (verdict.outcome !== "fail") return { state: next, actions: [] };
  const failure = failureMessage(spec, next, verdict.because);
  return failWhileHeld(spec, next, { ...failure, message: `${failure.message} (while held)` }, now);
}

function failWhileHeld(spec: ReleaseSpec, state: RolloutState, failure: Failure, now: number): Decision {
  if (!spec.autoRollback)
    return {
      state: { ...state, failure, updatedAt: now },
      actions: [{ kind: "await-approval", reason: `auto-rollback is off: ${failure.message}; it can only be rejected now` }],
    };
  return rollBack({ ...state, heldFrom: null }, failure, now);
}

function advanceStep(spec: ReleaseSpec, state: RolloutState, now: number, actions: Action[]): Decision {
  const next = state.stepIndex + 1;
  if (next >= spec.steps.length) {
    // An analysed 100% (blue-green's bake) passed: the candidate must still answer its health check to be promoted.
    return { state: { ...state, phase: "confirming", gateIndex: 0, updatedAt: now }, actions: [...actions, { kind: "check-gate", gate: "candidate-health" }] };
  }
  return enterStep(spec, state, next, now, actions);
}

/** A window in which the candidate answered requests: no promotion rests on a window where it did not. */
const candidateServed = (w: MetricsWindow) => w.candidate.requests - w.candidate.errors > 0;

function analyse(spec: ReleaseSpec, state: RolloutState, obs: Observation): Decision {
  const now = obs.at;
  const criteria = criteriaFor(spec, state.weight);
  const elapsed = (now - state.stepStartedAt) / 1000;

  if (obs.kind === "health") {
    const healthFailures = obs.ok ? 0 : state.healthFailures + 1;
    const limit = spec.analysis.guardrails.consecutiveHealthFailures;
    if (healthFailures >= limit) {
      const m: Measurement = { gate: "guardrail:health", value: healthFailures, threshold: limit, logEvidence: Infinity, logBar: 0 };
      const failure = failureMessage(spec, state, m);
      return fail(spec, { ...state, healthFailures }, { ...failure, message: `${failure.message}; last: ${obs.detail}` }, now);
    }
    return { state: { ...state, healthFailures, updatedAt: now }, actions: [] };
  }

  if (obs.kind === "metrics-unavailable") {
    const since = state.unavailableSince ?? now;
    const down = (now - since) / 1000;
    if (down >= spec.metricsUnavailableLimitSeconds) {
      const failure: Failure = failureAt(state, {
        gate: "metrics-unavailable",
        value: `${Math.round(down)} s`,
        threshold: `${spec.metricsUnavailableLimitSeconds} s`,
        message: `${stepLabel(spec, state, state.weight)}: metrics unavailable for ${Math.round(down)} s (limit ${spec.metricsUnavailableLimitSeconds} s): ${obs.error}`,
      });
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

  // The evidence rule: the criteria shown, enough requests, the bake served, and the candidate answering in this very window.
  const missing = evidenceMissing(spec, next, verdict.outcome === "pass", elapsed, obs.window);
  if (missing.length === 0) {
    const closed = { ...next, records: closeRecord(next.records, now, "pass", shown) };
    return advanceStep(spec, closed, now, [{ kind: "notify", event: "step-passed" }]);
  }
  if (elapsed >= spec.maxStepSeconds) {
    const failure: Failure = failureAt(state, {
      gate: "inconclusive",
      value: `${evidence.step.requests} candidate requests in ${Math.round(elapsed)} s`,
      threshold: `verdict within ${spec.maxStepSeconds} s`,
      message: `${stepLabel(spec, state, state.weight)}: no verdict after ${Math.round(elapsed)} s with ${evidence.step.requests} candidate requests; still waiting for ${missing.join("; ")}`,
    });
    if (spec.onInconclusive === "hold") return hold({ ...next, records: closeRecord(next.records, now, "timeout") }, now, failure.message);
    return fail(spec, next, failure, now, "timeout");
  }
  return { state: next, actions: [] };
}

/** What a step still lacks before it may pass, in words (empty: it passes). Pure. */
export function evidenceMissing(spec: ReleaseSpec, state: RolloutState, criteriaShown: boolean, elapsedSeconds: number, window: MetricsWindow): string[] {
  const missing: string[] = [];
  const criteria = criteriaFor(spec, state.weight);
  if (!criteriaShown) {
    const last = state.records.at(-1);
    const waiting = (last?.measurements ?? []).map((m) =>
      describeMeasurement(m, { guardrailMs: spec.analysis.guardrails.p95LatencyMs, stepMs: criteria.p95LatencyMs }),
    );
    const said = waiting.filter((w) => w.trim() !== "");
    missing.push(...(said.length > 0 ? said : ["the step's criteria to be shown met (no latency histogram or no requests yet)"]));
  }
  if (state.evidence.step.requests < spec.minStepRequests)
    missing.push(`at least ${spec.minStepRequests} candidate requests in the step (has ${state.evidence.step.requests})`);
  if (elapsedSeconds < spec.bakeSeconds) missing.push(`the bake of ${spec.bakeSeconds} s (${Math.floor(elapsedSeconds)} s so far)`);
  if (!candidateServed(window)) missing.push("a window in which the candidate answered requests (the last one had none)");
  return missing;
}

/**
 * Picks the rollout up after an interruption. The checkpoint says which
 * weight is safe (a step whose entry was earned); the router says what is
 * live. A live split the checkpoint cannot explain stops the release
 * (interrupted); a phase that cannot continue goes back to stable.
 */
export function resume(spec: ReleaseSpec, state: RolloutState, live: LiveSplit, now: number): Decision {
  const drift = checkLive(spec, state, live, now);
  if (drift) return drift;
  const liveWeight = Math.round(live.arms.filter((a) => a.name === state.candidate).reduce((s, a) => s + a.percent, 0));
  if (state.phase === "rolled-back" || state.phase === "rejected") {
    return { state, actions: liveWeight === 0 ? [] : [{ kind: "rollback", reason: "completing the rollback recorded in the checkpoint", mode: "immediate" }] };
  }
  if (state.phase === "promoted" || state.phase === "interrupted") return { state, actions: [] };
  // The final move may or may not have happened: make it again (idempotent); its "moved" promotes.
  if (state.phase === "switching") return { state: { ...state, updatedAt: now }, actions: [{ kind: "set-weight", weight: 100, step: spec.steps.length - 1 }] };
  if (state.phase === "gating") return nextGateOrTraffic(spec, state, now, []);
  if (state.phase === "promoting" || state.phase === "confirming") {
    const move = liveWeight === state.weight ? [] : [{ kind: "set-weight" as const, weight: state.weight, step: state.stepIndex }];
    return nextPromotionGate(spec, { ...state, updatedAt: now }, now, move);
  }
  if (state.phase === "held") return { state, actions: [{ kind: "await-approval", reason: "rollout is held; approve or reject it" }] };
  // Analysing: restart the step's clock and counts, keep the rollout-wide evidence.
  const restarted: RolloutState = {
    ...state,
    stepStartedAt: now,
    updatedAt: now,
    unavailableSince: null,
    healthFailures: 0,
    evidence: startStep(state.evidence),
    records: [
      ...closeRecord(state.records, now, "aborted"),
      { step: state.stepIndex, weight: state.weight, startedAt: now, candidateRequests: 0, stableRequests: 0, measurements: [] },
    ],
  };
  return { state: restarted, actions: liveWeight === state.weight ? [] : [{ kind: "set-weight", weight: state.weight, step: state.stepIndex }] };
}

export const isTerminal = (s: RolloutState) => TERMINAL.includes(s.phase);
