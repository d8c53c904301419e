import { describeMeasurement } from "./analysis/judge";
import { emptyArm, estimateQuantile, type ArmWindow, type MetricsWindow } from "./analysis/window";
import { decodeCheckpoint, encodeCheckpoint } from "./checkpoint";
import { difference, MetricsUnavailable, type MetricsReading, type MetricsSource } from "./metrics/source";
import { RouterError, type Router } from "./routers/router";
import { criteriaFor, decide, isTerminal, resume, start, type Action, type Decision, type GateName, type Observation, type ReleaseSpec, type RolloutState } from "./sequencer";

/**
 * The imperative shell around the pure sequencer: reads the checkpoint and
 * live weights, carries out actions through the router, gates and metrics
 * adapters, and feeds observations back. Every wait is bounded.
 */

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export type ProgressEvent =
  | { kind: "info"; message: string }
  | { kind: "weight"; weight: number; step: number; of: number }
  | { kind: "window"; step: number; weight: number; line: string }
  | { kind: "gate"; gate: GateName; passed: boolean; detail: string }
  | { kind: "rollback"; reason: string; restoreMs: number; drained: string }
  | { kind: "done"; phase: string; message: string };

export interface RolloutDeps {
  router: Router;
  /** Targets stepped in lockstep with the router (e.g. Vercel's rolling release); no checkpoint of their own. */
  followers?: { description: string; setWeight(weight: number): Promise<void>; rollback(): Promise<void> }[];
  metrics: MetricsSource;
  runGate(gate: GateName, ctx: { stable: string; candidate: string; weight: number }): Promise<{ passed: boolean; detail: string }>;
  /** Polled while held; undefined = no answer yet. */
  approval?: () => Promise<{ approved: boolean; by: string } | undefined>;
  health?: () => Promise<{ ok: boolean; detail: string }>;
  notify?: (event: Action & { kind: "notify" }, state: RolloutState) => Promise<void>;
  clock?: Clock;
  log?: (e: ProgressEvent) => void;
}

export interface RolloutOptions {
  spec: ReleaseSpec;
  stable: string;
  candidate: string;
  releaseKey: string;
  /** Poll interval for metrics and health. */
  intervalMs: number;
  /** Our own deadline: the Node dynamic-provider host ignores customTimeouts and Cancel. */
  deadlineMs: number;
  /** How long to wait for an approval before giving up (the rollout stays held). */
  approvalWaitMs?: number;
  /** Evaluate gates on live metrics; never move traffic or write a checkpoint. */
  dryRun?: boolean;
}

export interface RolloutResult {
  phase: RolloutState["phase"];
  state: RolloutState;
  /** From the rollback decision to the router confirming 100% stable. */
  restoreMs: number | null;
  resumed: boolean;
  /** True when the checkpoint said this release was already decided and nothing was done. */
  alreadyDecided: boolean;
  message: string;
}

/** How far back stable's own latency is read before the rollout (it fixes the comparison's boundary). */
export const STABLE_HISTORY_MS = 600_000;

/** How long a rollback keeps trying to restore stable through a failing router. */
export const RESTORE_PATIENCE_MS = 120_000;

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

function windowLine(w: MetricsWindow): string {
  const arm = (name: string, a: MetricsWindow["candidate"]) => {
    const p95 = estimateQuantile(a, 0.95);
    return `${name} ${a.requests} req, ${pct(a.requests ? a.errors / a.requests : 0)} err${p95 !== undefined ? `, p95≈${Math.round(p95)} ms` : ""}`;
  };
  return `${arm("candidate", w.candidate)} | ${arm("stable", w.stable)}`;
}

export async function runRollout(o: RolloutOptions, deps: RolloutDeps): Promise<RolloutResult> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? (() => {});
  const started = clock.now();
  const deadline = started + o.deadlineMs;
  const spec = o.spec;
  let restoreMs: number | null = null;

  // 1. Where are we? The checkpoint on the target and its live weights are the truth.
  const stored = decodeCheckpoint(await deps.router.readCheckpoint());
  if (stored.problem) log({ kind: "info", message: `ignoring checkpoint on ${deps.router.description}: ${stored.problem}` });
  const live = await deps.router.currentWeight();
  let decision: Decision;
  let resumed = false;
  const mine = stored.checkpoint?.releaseKey === o.releaseKey ? stored.checkpoint.state : null;
  if (mine && isTerminal(mine)) {
    // Decided before: a rejected candidate is not retried without a new candidate or retry token.
    const d = resume(spec, mine, live, clock.now());
    for (const a of d.actions) {
      if (o.dryRun) continue;
      const obs = await carryOut(a, mine);
      // Re-asserting a decision that failed to apply is an error of this run, not a new decision.
      if (obs?.kind === "move-failed") throw new RouterError(`re-asserting ${mine.phase} on ${deps.router.description} failed: ${obs.error}`, false);
    }
    const message = mine.phase === "promoted" ? `${o.candidate} was already promoted` : `${o.candidate} was already ${mine.phase} (${mine.failure?.message ?? "no reason recorded"}); change the candidate or set a retry token to try again`;
    log({ kind: "done", phase: mine.phase, message });
    return { phase: mine.phase, state: mine, restoreMs: null, resumed: false, alreadyDecided: true, message };
  }
  if (mine) {
    resumed = true;
    log({ kind: "info", message: `resuming ${o.releaseKey} from its checkpoint: phase ${mine.phase}, step ${mine.stepIndex + 1}/${spec.steps.length} at ${mine.weight}% (live ${live}%)` });
    decision = resume(spec, mine, live, clock.now());
  } else {
    if (live > 0 && !o.dryRun) {
      // Another release's traffic is still on the candidate slot: start from stable.
      log({ kind: "info", message: `candidate carries ${live}% without a checkpoint for this release; moving it back to stable first` });
      await deps.router.rollback(encodeCheckpoint(o.releaseKey, start(spec, o.stable, o.candidate, clock.now()).state));
    }
    if (!o.dryRun) await deps.router.prepare();
    decision = start(spec, o.stable, o.candidate, clock.now(), await stableHistory());
    if (!o.dryRun) await deps.router.saveCheckpoint(encodeCheckpoint(o.releaseKey, decision.state));
    log({ kind: "info", message: `rolling out ${o.candidate} over ${o.stable} on ${deps.router.description}: ${spec.strategy}, steps ${spec.steps.join("/")}%` });
  }

  async function carryOut(a: Action, state: RolloutState): Promise<Observation | undefined> {
    const checkpoint = encodeCheckpoint(o.releaseKey, state);
    switch (a.kind) {
      case "set-weight":
        log({ kind: "weight", weight: a.weight, step: a.step + 1, of: spec.steps.length });
        if (!o.dryRun) {
          try {
            await deps.router.setWeight(a.weight, checkpoint);
            for (const f of deps.followers ?? []) await f.setWeight(a.weight);
          } catch (e) {
            // The router already retried; the sequencer decides what a failed move means (a rollback).
            if (!(e instanceof RouterError)) throw e;
            log({ kind: "info", message: `traffic router failed moving to ${a.weight}%: ${e.message}; restoring stable` });
            return { kind: "move-failed", at: clock.now(), weight: a.weight, error: e.message };
          }
        }
        return { kind: "moved", at: clock.now(), weight: a.weight };
      case "rollback": {
        const t0 = clock.now();
        if (!o.dryRun) {
          const r = await restoreStable(checkpoint);
          restoreMs = clock.now() - t0;
          for (const f of deps.followers ?? []) await f.rollback().catch((e: Error) => log({ kind: "info", message: `follower ${f.description} rollback failed: ${e.message}` }));
          log({ kind: "rollback", reason: a.reason, restoreMs, drained: r.note });
        }
        return undefined;
      }
      case "check-gate": {
        const r = await deps.runGate(a.gate, { stable: o.stable, candidate: o.candidate, weight: state.weight });
        log({ kind: "gate", gate: a.gate, passed: r.passed, detail: r.detail });
        return { kind: "gate", at: clock.now(), gate: a.gate, passed: r.passed, detail: r.detail };
      }
      case "await-approval": {
        if (!o.dryRun) await deps.router.saveCheckpoint(checkpoint);
        const until = Math.min(deadline, clock.now() + (o.approvalWaitMs ?? 0));
        while (deps.approval && clock.now() < until) {
          const answer = await deps.approval();
          if (answer) return { kind: "approval", at: clock.now(), approved: answer.approved, by: answer.by };
          await clock.sleep(o.intervalMs);
        }
        return undefined;
      }
      case "notify":
        await deps.notify?.(a, state).catch(() => undefined);
        return undefined;
      case "done":
        if (!o.dryRun) await deps.router.saveCheckpoint(checkpoint);
        return undefined;
    }
  }

  /** Stable's traffic over the last STABLE_HISTORY_MS, from the metrics source (none if it cannot say). */
  async function stableHistory(): Promise<ArmWindow | undefined> {
    try {
      const now = clock.now();
      const [then, current] = [await deps.metrics.read(o.candidate, o.stable, now - STABLE_HISTORY_MS), await deps.metrics.read(o.candidate, o.stable, now)];
      const w = difference(then.stable, current.stable);
      log({ kind: "info", message: `stable's latency baseline: ${w.latency.length > 0 ? `${w.requests} requests over the last ${STABLE_HISTORY_MS / 60_000} min` : "no histogram yet; taken from the rollout's own windows"}` });
      return w.latency.length > 0 ? w : undefined;
    } catch (e) {
      if (!(e instanceof MetricsUnavailable)) throw e;
      log({ kind: "info", message: `stable's latency baseline: metrics unavailable (${e.message}); taken from the rollout's own windows` });
      return undefined;
    }
  }

  /**
   * 100% stable, however long the router takes to come back: the router
   * already retried each call; here whole attempts repeat every interval
   * until RESTORE_PATIENCE_MS has passed, so traffic is never left half
   * switched because one call failed.
   */
  async function restoreStable(checkpoint: string): Promise<{ drained: boolean; note: string }> {
    const giveUp = clock.now() + RESTORE_PATIENCE_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.router.rollback(checkpoint);
      } catch (e) {
        if (clock.now() >= giveUp) throw new Error(`could not restore 100% stable on ${deps.router.description} within ${RESTORE_PATIENCE_MS / 1000} s: ${(e as Error).message}`);
        log({ kind: "info", message: `restoring stable failed (attempt ${attempt}): ${(e as Error).message}; retrying in ${Math.round(o.intervalMs / 1000)} s` });
        await clock.sleep(o.intervalMs);
      }
    }
  }

  let previous: MetricsReading | null = null;
  /** Carries out a decision's actions, feeding what they observed (gates, moves, approvals) back to the sequencer. */
  const step = async (d: Decision): Promise<Decision> => {
    let current = d;
    for (const a of d.actions) {
      const obs = await carryOut(a, current.state);
      if (obs) current = decide(spec, current.state, obs);
      if (obs && current.actions.length > 0) return step(current);
    }
    return { state: current.state, actions: [] };
  };

  decision = await step(decision);
  while (!isTerminal(decision.state) && decision.state.phase !== "held") {
    if (clock.now() >= deadline) {
      decision = await step(decide(spec, decision.state, { kind: "abort", at: clock.now(), reason: `the rollout's own deadline of ${Math.round(o.deadlineMs / 1000)} s passed` }));
      break;
    }
    await clock.sleep(o.intervalMs);
    const s = decision.state;
    if (deps.health) {
      const h = await deps.health().catch((e: Error) => ({ ok: false, detail: e.message }));
      decision = await step(decide(spec, decision.state, { kind: "health", at: clock.now(), ok: h.ok, detail: h.detail }));
      if (isTerminal(decision.state)) break;
    }
    let obs: Observation;
    try {
      const reading = await deps.metrics.read(o.candidate, o.stable, clock.now());
      const window: MetricsWindow = previous
        ? { candidate: difference(previous.candidate, reading.candidate), stable: difference(previous.stable, reading.stable) }
        : { candidate: emptyArm(), stable: emptyArm() };
      previous = reading;
      obs = { kind: "metrics", at: clock.now(), window };
      const before = decision.state;
      decision = decide(spec, decision.state, obs);
      const rec = decision.state.records.at(-1);
      const verdict = rec?.measurements.map((m) => describeMeasurement(m, { guardrailMs: spec.analysis.guardrails.p95LatencyMs, stepMs: criteriaFor(spec, s.weight).p95LatencyMs })).join("; ");
      log({ kind: "window", step: before.stepIndex + 1, weight: before.weight, line: `${windowLine(window)}${verdict ? ` | ${verdict}` : ""}` });
      decision = await step(decision);
    } catch (e) {
      if (!(e instanceof MetricsUnavailable)) throw e;
      previous = null;
      decision = await step(decide(spec, decision.state, { kind: "metrics-unavailable", at: clock.now(), error: e.message }));
    }
  }

  const st = decision.state;
  const message =
    st.phase === "promoted"
      ? `${o.candidate} promoted to 100% after ${st.records.length} step(s)`
      : st.phase === "held"
        ? `rollout held at ${st.weight}%: waiting for approval${st.failure ? ` (${st.failure.message})` : ""}`
        : `${o.candidate} ${st.phase}: ${st.failure?.message ?? "no reason recorded"}${restoreMs !== null ? `; traffic restored to ${o.stable} in ${restoreMs} ms` : ""}`;
  log({ kind: "done", phase: st.phase, message });
  return { phase: st.phase, state: st, restoreMs, resumed, alreadyDecided: false, message };
}
