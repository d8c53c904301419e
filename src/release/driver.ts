import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { addProbe, emptyArm, estimateQuantile, type ArmWindow, type MetricsWindow, type ProbeCounts } from "./analysis/window";
import { describeMeasurement } from "./analysis/judge";
import { attemptOf, decodeCheckpoint, encodeCheckpoint, type Checkpoint, type Owner } from "./checkpoint";
import { difference, MetricsUnavailable, type MetricsReading, type MetricsSource } from "./metrics/source";
import { processGone } from "./liveness";
import { begin, type Begin } from "./reconcile";
import { LeaseLost, RouterError, SplitChanged, type CheckpointWrite, type Follower, type Router } from "./routers/router";
import { checkLive, decide, failureAt, isTerminal, start, type Action, type Decision, type Observation, type RolloutState } from "./sequencer";
import { criteriaFor, type GateName, type ReleaseSpec } from "./spec";
import type { LiveSplit } from "./split";

/**
 * The imperative shell around the pure sequencer: reads the checkpoint, the
 * live split and the owner of the release, carries out actions through the
 * router, gates and metrics adapters, and feeds observations back. Every
 * write to the target is a compare-and-swap guarded by the drift lock;
 * every wait is bounded.
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
  | { kind: "health"; ok: boolean; detail: string; failures: number }
  | { kind: "metrics-unavailable"; error: string; seconds: number }
  | { kind: "rollback"; reason: string; restoreMs: number; drained: string }
  | { kind: "done"; phase: string; message: string };

/** A WebSocket echo probe on both arms (optional): its counts since the last take join each metrics window. */
export interface Probe {
  take(): { candidate: ProbeCounts; stable: ProbeCounts | null };
  stop(): Promise<void>;
}

export interface RolloutDeps {
  router: Router;
  /** Targets stepped in lockstep with the router (e.g. Vercel's rolling release); no checkpoint of their own. */
  followers?: Follower[];
  metrics: MetricsSource;
  runGate(gate: GateName, ctx: { stable: string; candidate: string; weight: number }): Promise<{ passed: boolean; detail: string }>;
  /** Asked each interval while held, with the release attempt it must answer for; undefined = no answer yet. Without it a hold ends at once in a rollback. */
  approval?: (attempt: string) => Promise<{ approved: boolean; by: string } | undefined>;
  /** The candidate's health endpoint; undefined when it has none to check (the guardrail then rests on metrics). */
  health?: () => Promise<{ ok: boolean; detail: string } | undefined>;
  /** Started once the candidate is prepared (its URL exists). */
  probe?: () => Promise<Probe | undefined>;
  notify?: (event: Action & { kind: "notify" }, state: RolloutState) => Promise<void>;
  clock?: Clock;
  log?: (e: ProgressEvent) => void;
}

export interface RolloutOptions {
  spec: ReleaseSpec;
  stable: string;
  candidate: string;
  releaseKey: string;
  /** Poll interval for metrics (and the drift lock's check of the live split). */
  intervalMs: number;
  /** Health checks run this often (several per metrics interval, so a dead candidate is seen in seconds). */
  healthIntervalMs?: number;
  /** Our own deadline: the Node dynamic-provider host ignores customTimeouts and Cancel. */
  deadlineMs: number;
  /** How long a hold waits for an approval before the release is rolled back. */
  approvalWaitMs?: number;
  /** How long a statistical rollback lets the candidate's open sessions end on their own. */
  drainMs?: number;
  /** This engine's claim on the release; default leaseMs(intervalMs). */
  leaseMs?: number;
}

export interface RolloutResult {
  phase: RolloutState["phase"];
  state: RolloutState;
  /** From the rollback decision to the router confirming 100% stable. */
  restoreMs: number | null;
  /** What happened to the candidate's open connections on a rollback. */
  drain: string | null;
  resumed: boolean;
  /** True when the checkpoint said this release was already decided and nothing was done. */
  alreadyDecided: boolean;
  message: string;
}

/** How far back stable's own latency is read before the rollout (it fixes the comparison's boundary). */
export const STABLE_HISTORY_MS = 600_000;

/** How many of its own recent checkpoint texts an engine still recognises on the target (a write and its retries). */
const ATTEMPTS_KEPT = 8;

/** How long a rollback keeps trying to restore stable through a failing router. */
export const RESTORE_PATIENCE_MS = 120_000;

/** An engine's claim on a release; renewed with every write and at half its length. */
export const leaseMs = (intervalMs: number) => Math.max(120_000, 4 * intervalMs);

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

function windowLine(w: MetricsWindow): string {
  const arm = (name: string, a: MetricsWindow["candidate"]) => {
    const p95 = estimateQuantile(a, 0.95);
    return `${name} ${a.requests} req, ${pct(a.requests ? a.errors / a.requests : 0)} err${p95 !== undefined ? `, p95≈${Math.round(p95)} ms` : ""}`;
  };
  return `${arm("candidate", w.candidate)} | ${arm("stable", w.stable)}`;
}

/** What a rollout that ran says about how it ended. */
export function outcomeMessage(o: Pick<RolloutOptions, "stable" | "candidate">, st: RolloutState, restoreMs: number | null): string {
  switch (st.phase) {
    case "promoted":
      return `${o.candidate} promoted to 100% after ${new Set(st.records.map((r) => r.step)).size} step(s)`;
    case "held":
      return `rollout held at ${st.weight}%: waiting for approval${st.failure ? ` (${st.failure.message})` : ""}`;
    case "interrupted":
      return st.failure?.message ?? "interrupted";
    default:
      return `${o.candidate} ${st.phase}: ${st.failure?.message ?? "no reason recorded"}${restoreMs !== null ? `; traffic restored to ${o.stable} in ${restoreMs} ms` : ""}`;
  }
}

export async function runRollout(o: RolloutOptions, deps: RolloutDeps): Promise<RolloutResult> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? (() => {});
  const router = deps.router;
  const spec = o.spec;
  const me: Owner = { id: randomUUID(), host: hostname(), pid: process.pid };
  const lease = o.leaseMs ?? leaseMs(o.intervalMs);
  const deadline = clock.now() + o.deadlineMs;
  let restoreMs: number | null = null;
  let drain: string | null = null;
  /** The checkpoint text on the target as this engine last read or wrote it: every write compares against it. */
  let stored: string | null = null;
  /** Texts this engine wrote or was about to write (the last few): one of them may be on the target after a failed write. */
  let attempted: (string | null)[] = [];
  let lastPromoted: Checkpoint["lastPromoted"] = null;
  let leaseUntil = 0;
  let probe: Probe | undefined;
  /** Since when the release is held (a person's answer is awaited), in this run. */
  let heldSince: number | null = null;

  const result = (state: RolloutState, message: string, extra: Partial<RolloutResult> = {}): RolloutResult => {
    log({ kind: "done", phase: state.phase, message });
    return { phase: state.phase, state, restoreMs, drain, resumed: false, alreadyDecided: false, message, ...extra };
  };

  /** A checkpoint write for `state`, guarded by the CAS on the stored text and (unless `drift` is off) the drift lock for `expect`. */
  const writeFor = (state: RolloutState, expect: RolloutState | null = state): CheckpointWrite => {
    if (state.phase === "promoted" && (lastPromoted?.releaseKey !== o.releaseKey || lastPromoted.candidate !== state.candidate))
      lastPromoted = { releaseKey: o.releaseKey, candidate: state.candidate, at: state.updatedAt };
    const until = clock.now() + lease;
    const text = encodeCheckpoint({
      format: "progressive-delivery/checkpoint@2",
      releaseKey: o.releaseKey,
      target: router.target,
      steps: spec.steps,
      owner: me,
      leaseUntil: until,
      lastPromoted,
      state,
    });
    return {
      text,
      guard: (current: string | null, live: LiveSplit) => {
        // Ours: what this engine last read or wrote, or a text of an earlier attempt (a write that failed, or answered
        // with an error after it landed, is tried again; the target then holds either text). Each text names this engine.
        const earlier = attempted.lastIndexOf(current);
        if (current !== stored && earlier < 0)
          throw new LeaseLost(`the checkpoint of ${o.releaseKey} on ${router.target} was changed by someone else since this engine read it`);
        if (expect && checkLive(spec, expect, live, clock.now())) throw new SplitChanged(live);
        // Accepted: from here on the stored text is ours. Texts older than what the target holds can no longer be there
        // (a checkpoint removed by someone else after this engine's first write is not taken for the empty start).
        attempted = [...(current === stored ? [] : attempted.slice(earlier)), stored, text].slice(-ATTEMPTS_KEPT);
        stored = text;
        leaseUntil = until;
      },
    };
  };

  // 1. Where are we? The checkpoint on the target, its live split and its owner are the truth.
  const b = await establish();
  if (b.kind === "wait" || b.kind === "refuse") {
    // Nothing of this release was written or moved.
    const refused = start(spec, o.stable, o.candidate, clock.now()).state;
    const failure =
      b.kind === "wait"
        ? failureAt(refused, {
            gate: "lease",
            value: "held",
            threshold: "free",
            message: `${b.message}; gave up waiting. If that engine is gone, its lease runs out at that time; nothing was moved`,
          })
        : failureAt(refused, { gate: "checkpoint", value: "refused", threshold: "-", message: b.message });
    const why = b.kind === "wait" ? `${b.message}; gave up waiting (nothing was moved)` : b.message;
    return result({ ...refused, phase: "interrupted", failure }, `${o.candidate} not started: ${why}`);
  }

  let decision: Decision = b.decision;
  let resumed = false;
  try {
    if (b.kind === "start" && decision.state.phase === "interrupted") {
      // Nothing of this release exists yet: refuse without writing anything.
      return result(decision.state, decision.state.failure!.message);
    }
    if (b.kind === "decided" || b.kind === "already-promoted") {
      const was = decision.state;
      decision = await step(decision);
      if (decision.state.phase === "interrupted") {
        await router.saveCheckpoint(writeFor(decision.state, null));
        return result(decision.state, decision.state.failure!.message);
      }
      if (b.kind === "already-promoted") await router.saveCheckpoint(writeFor(decision.state, decision.state));
      const message =
        b.kind === "already-promoted"
          ? `${o.candidate} already serves 100%: an earlier update promoted this release (${o.releaseKey}) and the live split still shows it, so no traffic was moved`
          : was.phase === "promoted"
            ? `${o.candidate} was already promoted`
            : `${o.candidate} was already ${was.phase} (${was.failure?.message ?? "no reason recorded"}); change the candidate or set a retry token to try again`;
      return result(decision.state, message, { alreadyDecided: true });
    }
    if (b.kind === "resume") {
      resumed = true;
      const s = b.decision.state;
      log({
        kind: "info",
        message: `resuming ${o.releaseKey} from its checkpoint: phase ${s.phase}, step ${s.stepIndex + 1}/${spec.steps.length} at ${s.weight}%`,
      });
      if (decision.state.phase === "interrupted") {
        await router.saveCheckpoint(writeFor(decision.state, null));
        return result(decision.state, decision.state.failure!.message, { resumed });
      }
      await router.saveCheckpoint(writeFor(decision.state));
    } else {
      log({
        kind: "info",
        message: `rolling out ${o.candidate} over ${o.stable} on ${router.description}: ${spec.strategy}, steps ${spec.steps.join("/")}% (live split checked: 100% on ${o.stable})`,
      });
      // The write that starts the release is guarded by the exact expectation of a new one: 100% on stable.
      await router.prepare(writeFor(decision.state, { ...decision.state, weight: 0, moving: null }));
    }
    probe = await deps.probe?.();
    decision = await step(decision);
    decision = await loop(decision);
  } catch (e) {
    if (e instanceof LeaseLost) {
      const s = decision.state;
      return result(
        {
          ...s,
          phase: "interrupted",
          failure: failureAt(s, {
            gate: "lease",
            value: "lost",
            threshold: "owned",
            message: `${e.message}: another engine took this release over; this one stopped without moving traffic`,
          }),
        },
        `${o.candidate}: ${e.message}; this engine stopped without moving traffic`,
        { resumed },
      );
    }
    throw e;
  } finally {
    await probe?.stop();
  }

  const st = decision.state;
  const message = outcomeMessage(o, st, restoreMs);
  return result(st, message, { resumed });

  /**
   * Reads the checkpoint, the live split and the owner until the release may
   * begin, or another engine's lease has been waited on for as long as it can
   * last (then the answer is still "wait").
   */
  async function establish(): Promise<Begin> {
    const waitLimit = clock.now() + lease + o.intervalMs;
    for (;;) {
      stored = await router.readCheckpoint();
      const decoded = decodeCheckpoint(stored, { target: router.target, steps: spec.steps });
      const live = await router.readSplit();
      const gone = decoded.kind === "ok" && processGone(decoded.checkpoint.owner.host, decoded.checkpoint.owner.pid);
      const history =
        decoded.kind === "ok" && decoded.checkpoint.releaseKey === o.releaseKey && decoded.checkpoint.state.phase !== "interrupted"
          ? undefined
          : await stableHistory();
      if (decoded.kind === "ok") lastPromoted = decoded.checkpoint.lastPromoted;
      if (decoded.kind === "ok" && decoded.migratedFrom)
        log({ kind: "info", message: `read a schema-${decoded.migratedFrom} checkpoint on ${router.target}; it is rewritten as schema 2 with the next write` });
      const b = begin({
        spec,
        releaseKey: o.releaseKey,
        stable: o.stable,
        candidate: o.candidate,
        target: router.target,
        stored: decoded,
        live,
        now: clock.now(),
        me,
        ownerGone: gone,
        ...(history ? { stableHistory: history } : {}),
      });
      if (b.kind !== "wait" || clock.now() >= waitLimit) return b;
      log({ kind: "info", message: `${b.message}; waiting for it to end (at most ${Math.round((waitLimit - clock.now()) / 1000)} s)` });
      await clock.sleep(Math.max(100, Math.min(b.until - clock.now() + 100, o.intervalMs)));
    }
  }

  /**
   * Carries out one action. A move is made only through a guarded write;
   * a guard that finds the split changed comes back as a `split`
   * observation (the drift lock then stops the release).
   */
  async function carryOut(a: Action, state: RolloutState): Promise<Observation | undefined> {
    switch (a.kind) {
      case "set-weight":
        log({ kind: "weight", weight: a.weight, step: a.step + 1, of: spec.steps.length });
        try {
          await router.setWeight(a.weight, writeFor(state));
          for (const f of deps.followers ?? []) await f.setWeight(a.weight);
        } catch (e) {
          if (e instanceof SplitChanged) return { kind: "split", at: clock.now(), live: e.live };
          // The router already retried; the sequencer decides what a failed move means (a rollback).
          if (!(e instanceof RouterError)) throw e;
          log({ kind: "info", message: `traffic router failed moving to ${a.weight}%: ${e.message}; restoring stable` });
          return { kind: "move-failed", at: clock.now(), weight: a.weight, error: e.message };
        }
        return { kind: "moved", at: clock.now(), weight: a.weight };
      case "rollback": {
        const t0 = clock.now();
        const plan = a.mode === "drain" ? { mode: "drain" as const, drainMs: o.drainMs ?? 0 } : { mode: "immediate" as const };
        let r;
        try {
          r = await restoreStable(state, plan);
        } catch (e) {
          if (e instanceof SplitChanged) return { kind: "split", at: clock.now(), live: e.live };
          throw e;
        }
        restoreMs = clock.now() - t0;
        drain = r.note;
        for (const f of deps.followers ?? [])
          await f.rollback().catch((e: Error) => log({ kind: "info", message: `follower ${f.description} rollback failed: ${e.message}` }));
        log({ kind: "rollback", reason: a.reason, restoreMs, drained: r.note });
        return { kind: "moved", at: clock.now(), weight: 0 };
      }
      case "check-gate": {
        const r = await deps.runGate(a.gate, { stable: o.stable, candidate: o.candidate, weight: state.weight });
        log({ kind: "gate", gate: a.gate, passed: r.passed, detail: r.detail });
        return { kind: "gate", at: clock.now(), gate: a.gate, passed: r.passed, detail: r.detail };
      }
      case "await-approval": {
        // Not a wait here: the watch loop keeps the guardrails running and asks the approval source each interval.
        heldSince ??= clock.now();
        await saveQuietly(state, state, "recording the hold");
        const attempt = attemptOf(o.releaseKey, state);
        log({
          kind: "info",
          message: deps.approval
            ? `held: ${a.reason}; waiting up to ${Math.round((o.approvalWaitMs ?? 0) / 1000)} s for an answer naming release "${attempt}" ({"release": "${attempt}", "decision": "approve"|"reject", "by": "<name>"}), then rolling back; guardrails keep watching`
            : `held: ${a.reason}; no approval source is configured, so the release rolls back`,
        });
        return undefined;
      }
      case "notify":
        await deps.notify?.(a, state).catch(() => undefined);
        return undefined;
      case "done":
        await saveQuietly(state, state.phase === "interrupted" ? null : state, `recording ${state.phase}`);
        return undefined;
    }
  }

  /** Stable's traffic over the last STABLE_HISTORY_MS, from the metrics source (none if it cannot say). */
  async function stableHistory(): Promise<ArmWindow | undefined> {
    try {
      const now = clock.now();
      const current = await deps.metrics.readArm(o.stable, now);
      // A series younger than the look-back has no sample then: its whole life so far is the history.
      const then = await deps.metrics.readArm(o.stable, now - STABLE_HISTORY_MS).catch((e: unknown) => {
        if (e instanceof MetricsUnavailable) return emptyArm();
        throw e;
      });
      const w = difference(then, current);
      log({
        kind: "info",
        message: `stable's latency baseline: ${w.latency.length > 0 ? `${w.requests} requests over the last ${STABLE_HISTORY_MS / 60_000} min` : "no histogram yet; taken from the rollout's own windows"}`,
      });
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
   * switched because one call failed. A changed split (SplitChanged) or a
   * lost lease ends it at once: the engine does not fight a person.
   */
  async function restoreStable(state: RolloutState, plan: Parameters<Router["rollback"]>[1]) {
    const giveUp = clock.now() + RESTORE_PATIENCE_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await router.rollback(writeFor(state), plan);
      } catch (e) {
        if (e instanceof SplitChanged || e instanceof LeaseLost) throw e;
        if (clock.now() >= giveUp)
          throw new Error(`could not restore 100% stable on ${router.description} within ${RESTORE_PATIENCE_MS / 1000} s: ${(e as Error).message}`, {
            cause: e,
          });
        log({
          kind: "info",
          message: `restoring stable failed (attempt ${attempt}): ${(e as Error).message}; retrying in ${Math.round(o.intervalMs / 1000)} s`,
        });
        await clock.sleep(o.intervalMs);
      }
    }
  }

  /**
   * Renews the lease when half of it has run out (a guarded write: the drift
   * lock is checked too). A router that does not answer is tried again next
   * interval; a lost lease or a changed split is not swallowed.
   */
  async function renew(state: RolloutState): Promise<void> {
    if (leaseUntil - clock.now() >= lease / 2) return;
    await saveQuietly(state, state, "renewing the lease");
  }

  /** A checkpoint write that only records (no move): a router that does not answer is logged, not fatal. */
  async function saveQuietly(state: RolloutState, expect: RolloutState | null, what: string): Promise<void> {
    try {
      await router.saveCheckpoint(writeFor(state, expect));
    } catch (e) {
      if (!(e instanceof RouterError)) throw e;
      log({ kind: "info", message: `${what}: the router did not answer (${e.message}); the checkpoint on the target keeps its last state` });
    }
  }

  /** Carries out a decision's actions, feeding what they observed (gates, moves, approvals, splits) back to the sequencer. */
  async function step(d: Decision): Promise<Decision> {
    let current = d;
    for (const a of d.actions) {
      const obs = await carryOut(a, current.state);
      if (obs) current = decide(spec, current.state, obs);
      if (obs && current.actions.length > 0) return step(current);
    }
    return { state: current.state, actions: [] };
  }

  /** While held: one question to the approval source; no answer in time is a timeout (a rollback). */
  async function askForApproval(d: Decision): Promise<Decision> {
    const since = heldSince ?? clock.now();
    heldSince = since;
    const answer = deps.approval
      ? await deps.approval(attemptOf(o.releaseKey, d.state)).catch((e: Error) => (log({ kind: "info", message: `approval source: ${e.message}` }), undefined))
      : undefined;
    if (answer) return step(decide(spec, d.state, { kind: "approval", at: clock.now(), approved: answer.approved, by: answer.by }));
    if (clock.now() - since >= (o.approvalWaitMs ?? 0))
      return step(decide(spec, d.state, { kind: "approval-timeout", at: clock.now(), waitedSeconds: Math.round((clock.now() - since) / 1000) }));
    return d;
  }

  /** The watch: health several times per interval, the live split and the metrics once per interval (held or not), until a decision ends it. */
  async function loop(d: Decision): Promise<Decision> {
    let decision = d;
    let previous: MetricsReading | null = null;
    let unavailableSince: number | null = null;
    const healthEvery = Math.min(o.healthIntervalMs ?? o.intervalMs, o.intervalMs);
    while (!isTerminal(decision.state)) {
      if (clock.now() >= deadline)
        return step(
          decide(spec, decision.state, { kind: "abort", at: clock.now(), reason: `the rollout's own deadline of ${Math.round(o.deadlineMs / 1000)} s passed` }),
        );
      if (decision.state.phase === "held") {
        decision = await askForApproval(decision);
        if (isTerminal(decision.state)) break;
      } else heldSince = null;
      const metricsAt = clock.now() + o.intervalMs;
      while (clock.now() < metricsAt && !isTerminal(decision.state)) {
        await clock.sleep(Math.min(healthEvery, metricsAt - clock.now()));
        if (!deps.health) continue;
        const h = await deps.health().catch((e: Error) => ({ ok: false, detail: e.message }));
        if (!h) continue;
        decision = await step(decide(spec, decision.state, { kind: "health", at: clock.now(), ok: h.ok, detail: h.detail }));
        if (!h.ok) log({ kind: "health", ok: false, detail: h.detail, failures: decision.state.healthFailures });
      }
      if (isTerminal(decision.state)) break;
      // The drift lock between moves: a person who changed the split stops the release here.
      const live = await router.readSplit().catch(() => undefined);
      if (live) {
        decision = await step(decide(spec, decision.state, { kind: "split", at: clock.now(), live }));
        if (isTerminal(decision.state)) break;
      }
      await renew(decision.state);
      try {
        const reading = await deps.metrics.read(o.candidate, o.stable, clock.now());
        const probed = probe?.take();
        const raw: MetricsWindow = previous
          ? { candidate: difference(previous.candidate, reading.candidate), stable: difference(previous.stable, reading.stable) }
          : { candidate: emptyArm(), stable: emptyArm() };
        const window =
          probed && previous
            ? { candidate: addProbe(raw.candidate, probed.candidate), stable: probed.stable ? addProbe(raw.stable, probed.stable) : raw.stable }
            : raw;
        previous = reading;
        unavailableSince = null;
        const before = decision.state;
        decision = decide(spec, decision.state, { kind: "metrics", at: clock.now(), window });
        const rec = decision.state.records.at(-1);
        const verdict = rec?.measurements
          .map((m) => describeMeasurement(m, { guardrailMs: spec.analysis.guardrails.p95LatencyMs, stepMs: criteriaFor(spec, before.weight).p95LatencyMs }))
          .join("; ");
        const probeText = probed
          ? ` | probe: candidate ${probed.candidate.failed}/${probed.candidate.sent} failed${probed.stable ? `, stable ${probed.stable.failed}/${probed.stable.sent}` : ""}`
          : "";
        log({ kind: "window", step: before.stepIndex + 1, weight: before.weight, line: `${windowLine(window)}${probeText}${verdict ? ` | ${verdict}` : ""}` });
        decision = await step(decision);
      } catch (e) {
        if (!(e instanceof MetricsUnavailable)) throw e;
        previous = null;
        unavailableSince ??= clock.now();
        log({ kind: "metrics-unavailable", error: e.message, seconds: Math.round((clock.now() - unavailableSince) / 1000) });
        decision = await step(decide(spec, decision.state, { kind: "metrics-unavailable", at: clock.now(), error: e.message }));
      }
    }
    return decision;
  }
}
