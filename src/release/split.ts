/**
 * The live traffic split as a router reads it, and the rule that says
 * whether it is the split a release expects (pure). A router reports every
 * arm of its target (other revisions, other backendRefs, other servers), not
 * only the two it moves: traffic on anything else is a change nobody in this
 * release asked for.
 */

export interface SplitArm {
  /** Revision, backendRef or server name ("LATEST" for Cloud Run's latest-revision entry). */
  name: string;
  /** Share of new requests, 0..100. */
  percent: number;
}

export interface LiveSplit {
  arms: SplitArm[];
}

/** What a release expects of the candidate's share: exactly one weight, or any weight of a move in flight. */
export interface SplitExpectation {
  stable: string;
  candidate: string;
  /** The candidate's share lies in [low, high]; stable has the rest; every other arm 0. */
  low: number;
  high: number;
}

/** The two arms' shares are compared to half a percentage point: routers store integer weights, some as ratios. */
const TOLERANCE = 0.5;

/** Shares from raw weights (HAProxy server weights, HTTPRoute backendRef weights); all zero means nothing is served. */
export function fromWeights(weights: { name: string; weight: number }[]): LiveSplit {
  const total = weights.reduce((a, w) => a + Math.max(0, w.weight), 0);
  return { arms: weights.map((w) => ({ name: w.name, percent: total > 0 ? (100 * Math.max(0, w.weight)) / total : 0 })) };
}

export const shareOf = (live: LiveSplit, name: string): number => live.arms.filter((a) => a.name === name).reduce((s, a) => s + a.percent, 0);

const round = (x: number) => Math.round(x * 10) / 10;

/** "blue 75%, green 25%": the release's own arms first (in `keep`'s order, even at 0%), then any other arm with traffic. */
export function describeSplit(live: LiveSplit, keep: string[] = []): string {
  const rank = (name: string) => (keep.includes(name) ? keep.indexOf(name) : keep.length);
  const shown = live.arms.filter((a) => a.percent > 0 || keep.includes(a.name)).sort((a, b) => rank(a.name) - rank(b.name));
  if (shown.length === 0) return "no arm carries traffic";
  return shown.map((a) => `${a.name} ${round(a.percent)}%`).join(", ");
}

export function describeExpectation(e: SplitExpectation): string {
  const arm = (c: number) => `${e.stable} ${100 - c}%, ${e.candidate} ${c}%`;
  return e.low === e.high ? arm(e.low) : `${arm(e.low)} … ${arm(e.high)} (a move in flight)`;
}

export type SplitCheck = { ok: true } | { ok: false; reason: string };

/** Does the live split match what the release expects? Pure. */
export function checkSplit(live: LiveSplit, e: SplitExpectation): SplitCheck {
  // Any other arm with any share is someone else's traffic: no tolerance (the engine's own rescaling would grow it).
  const others = live.arms.filter((a) => a.name !== e.stable && a.name !== e.candidate && a.percent > 0);
  if (others.length > 0)
    return {
      ok: false,
      reason: `${others.map((a) => `${a.name} carries ${a.percent < 0.1 ? "some" : `${round(a.percent)}%`}`).join(", ")}, which is neither ${e.stable} (stable) nor ${e.candidate} (candidate)`,
    };
  if (!live.arms.some((a) => a.name === e.stable)) return { ok: false, reason: `the target has no arm named ${e.stable} (stable)` };
  const c = shareOf(live, e.candidate);
  const s = shareOf(live, e.stable);
  if (c + s < 100 - TOLERANCE) return { ok: false, reason: "the target serves no traffic through either arm" };
  if (c < e.low - TOLERANCE || c > e.high + TOLERANCE) return { ok: false, reason: `${e.candidate} carries ${round(c)}%` };
  return { ok: true };
}
