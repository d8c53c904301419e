import type { ArmWindow } from "./analysis/window";
import { inconsistency, type Checkpoint, type Decoded, type Owner } from "./checkpoint";
import { checkLive, DECIDED, resume, start, type Decision, type RolloutState } from "./sequencer";
import type { ReleaseSpec } from "./spec";
import { shareOf, type LiveSplit } from "./split";

/**
 * How a run of the engine begins (pure): from the checkpoint stored on the
 * target, the live split and who owns the release. Nothing here moves
 * traffic; the outcome says what the driver may do.
 */

export interface BeginInput {
  spec: ReleaseSpec;
  releaseKey: string;
  stable: string;
  candidate: string;
  /** The router's identity of its target. */
  target: string;
  stored: Decoded;
  live: LiveSplit;
  now: number;
  me: Owner;
  /** The stored owner is provably gone (same host, no such process): its lease does not need to run out. */
  ownerGone: boolean;
  stableHistory?: ArmWindow;
}

export type Begin =
  /** Refused before anything moved: the message says why and what to do. */
  | { kind: "refuse"; message: string }
  /** Another engine holds the release (or another release is in flight here) until `until`: wait, then read everything again. */
  | { kind: "wait"; until: number; message: string }
  /** This release was decided before: nothing to do but what `decision` says (re-asserting a rollback, or reporting drift). */
  | { kind: "decided"; decision: Decision }
  /** A new release of a revision this target already promoted and still serves at 100%: promoted without moving traffic. */
  | { kind: "already-promoted"; decision: Decision }
  | { kind: "resume"; decision: Decision }
  | { kind: "start"; decision: Decision };

const ownerText = (o: Owner) => `engine ${o.id} (pid ${o.pid}${o.host ? ` on ${o.host}` : ""})`;
const isMine = (c: Checkpoint, me: Owner) => c.owner.id === me.id;

export function begin(i: BeginInput): Begin {
  const where = `the checkpoint on ${i.target}`;
  if (i.stored.kind === "malformed") {
    return {
      kind: "refuse",
      message: `${where} cannot be read: ${i.stored.problem}. Nothing was moved. Restore stable with \`npm run rollout -- --restore-stable\` (it rewrites the checkpoint), or remove it after checking the live split by hand`,
    };
  }
  const c = i.stored.kind === "ok" ? i.stored.checkpoint : null;
  const leased = c !== null && !DECIDED.includes(c.state.phase) && c.state.phase !== "interrupted" && !isMine(c, i.me) && c.leaseUntil > i.now && !i.ownerGone;

  if (c && c.releaseKey === i.releaseKey) {
    const gates = [...i.spec.gatesBeforeTraffic, ...i.spec.gatesBeforePromotion];
    const problem = inconsistency(c, { releaseKey: i.releaseKey, stable: i.stable, candidate: i.candidate, target: i.target, steps: i.spec.steps, gates });
    if (problem)
      return {
        kind: "refuse",
        message: `${where} names this release (${i.releaseKey}) but ${problem}. Nothing was moved; it is not resumed. Restore stable with \`npm run rollout -- --restore-stable\`, then run the update again`,
      };
    if (leased)
      return {
        kind: "wait",
        until: c.leaseUntil,
        message: `${ownerText(c.owner)} holds release ${i.releaseKey} until ${new Date(c.leaseUntil).toISOString()}`,
      };
    if (DECIDED.includes(c.state.phase)) return { kind: "decided", decision: resume(i.spec, c.state, i.live, i.now) };
    // An interrupted release starts again from the beginning, from a verified 100% on stable.
    if (c.state.phase !== "interrupted") return { kind: "resume", decision: resume(i.spec, c.state, i.live, i.now) };
  } else if (leased) {
    return {
      kind: "wait",
      until: c.leaseUntil,
      message: `another release (${c.releaseKey}) is in progress on ${i.target}, held by ${ownerText(c.owner)} until ${new Date(c.leaseUntil).toISOString()}`,
    };
  }

  const fresh = start(i.spec, i.stable, i.candidate, i.now, i.stableHistory);
  const promoted = c?.lastPromoted;
  if (promoted && promoted.releaseKey === i.releaseKey && promoted.candidate === i.candidate && Math.round(shareOf(i.live, i.candidate)) === 100) {
    const state: RolloutState = { ...fresh.state, phase: "promoted", stepIndex: i.spec.steps.length - 1, weight: 100, moving: null, updatedAt: i.now };
    // Still checked: every other arm must be at 0.
    return { kind: "already-promoted", decision: checkLive(i.spec, state, i.live, i.now) ?? { state, actions: [{ kind: "done", phase: "promoted" }] } };
  }
  // A new release expects exactly 100% on stable (the first move may already be in fresh's actions).
  return { kind: "start", decision: checkLive(i.spec, { ...fresh.state, weight: 0, moving: null }, i.live, i.now) ?? fresh };
}
