import { z } from "zod";
import type { Phase, RolloutState } from "./sequencer";

/**
 * The checkpoint stored on the target (Cloud Run annotation, HTTPRoute
 * annotation, a file beside HAProxy's config): the sequencer's state, the
 * release it belongs to, which engine owns it (a lease), and the last
 * release this target promoted. It is data read from outside: decoded with
 * a schema, never trusted by shape. Every write is a compare-and-swap on the
 * stored text, so two engines can never both move one release's traffic.
 */

export const CHECKPOINT_ANNOTATION = "delivery.progressive.dev/rollout";
const FORMAT_V1 = "progressive-delivery/checkpoint@1";
const FORMAT = "progressive-delivery/checkpoint@2";

/** JSON has no Infinity: written as a string; schema-1 checkpoints wrote null, which only ever stood for Infinity. */
const Num = z
  .union([z.number(), z.literal("Infinity"), z.literal("-Infinity"), z.null()])
  .transform((v) => (v === null || v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v));
const Count = z.number().finite().min(0);

const RatioTest = z.strictObject({ logLr: z.array(Num), candidateEvents: Count, stableEvents: Count });
const Arm = z.strictObject({ requests: Count, errors: Count, latency: z.array(z.strictObject({ le: Num, count: Count })) });
const Evidence = z.strictObject({
  errors: RatioTest,
  latency: RatioTest,
  latencyBoundaryMs: z.number().nullable(),
  stableLatencySoFar: Arm.nullable(),
  latencyCandidateRequests: Count.default(0),
  candidate: z.strictObject({ requests: Count, errors: Count, timed: Count.default(0), slow: Count }),
  stable: z.strictObject({ requests: Count, errors: Count, timed: Count.default(0) }),
  step: z.strictObject({ requests: Count, errors: Count, timed: Count.default(0), slow: Count, stableRequests: Count }),
});
const Measurement = z.strictObject({
  gate: z.enum([
    "guardrail:error-rate",
    "guardrail:p95-latency",
    "guardrail:health",
    "comparative:error-rate",
    "comparative:latency",
    "comparative:latency-baseline",
    "step:error-rate",
    "step:p95-latency",
  ]),
  value: Num,
  threshold: Num,
  logEvidence: Num,
  logBar: Num,
});
const StepRecord = z.strictObject({
  step: z.number().int().min(0),
  weight: z.number().min(0).max(100),
  startedAt: z.number(),
  endedAt: z.number().optional(),
  outcome: z.enum(["pass", "fail", "timeout", "aborted"]).optional(),
  candidateRequests: Count,
  stableRequests: Count,
  measurements: z.array(Measurement),
});
const Failure = z.strictObject({
  step: z.number(),
  weight: z.number(),
  gate: z.string(),
  value: z.union([z.number(), z.string()]),
  threshold: z.union([z.number(), z.string()]),
  message: z.string(),
});
const PHASES = [
  "gating",
  "analysing",
  "promoting",
  "switching",
  "confirming",
  "held",
  "promoted",
  "rolled-back",
  "rejected",
  "interrupted",
] as const satisfies readonly Phase[];
const Weight = z.number().min(0).max(100);

const stateFields = {
  stable: z.string().min(1),
  candidate: z.string().min(1),
  phase: z.enum(PHASES),
  stepIndex: z.number().int().min(-1),
  weight: Weight,
  gateIndex: z.number().int().min(0),
  stepStartedAt: z.number(),
  startedAt: z.number(),
  updatedAt: z.number(),
  unavailableSince: z.number().nullable(),
  healthFailures: z.number().int().min(0),
  heldFrom: z.enum(PHASES).nullable(),
  evidence: Evidence,
  records: z.array(StepRecord),
  failure: Failure.nullable(),
  gatesPassed: z.array(z.string()),
};
const StateV2 = z.strictObject({ schema: z.literal(2), moving: z.strictObject({ from: Weight, to: Weight }).nullable(), ...stateFields });
const StateV1 = z.object({ schema: z.literal(1), ...stateFields });

const Owner = z.strictObject({ id: z.string().min(1), host: z.string(), pid: z.number().int() });
export type Owner = z.infer<typeof Owner>;
const Promotion = z.strictObject({ releaseKey: z.string().min(1), candidate: z.string().min(1), at: z.number() });

const CheckpointV2 = z.strictObject({
  format: z.literal(FORMAT),
  releaseKey: z.string().min(1),
  /** The router's identity of the target (service, route, backend): a checkpoint copied elsewhere is foreign. */
  target: z.string().min(1),
  /** The release's steps when it started: a changed plan cannot resume an old step index. */
  steps: z.array(Weight).min(1),
  owner: Owner,
  leaseUntil: z.number(),
  lastPromoted: Promotion.nullable(),
  state: StateV2,
});
const CheckpointV1 = z.object({ format: z.literal(FORMAT_V1), releaseKey: z.string().min(1), state: StateV1 });

export type Checkpoint = Omit<z.infer<typeof CheckpointV2>, "state"> & { state: RolloutState };

export type Decoded = { kind: "none" } | { kind: "ok"; checkpoint: Checkpoint; migratedFrom?: 1 } | { kind: "malformed"; problem: string };

const issues = (e: z.ZodError) =>
  e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");

/** Parses a stored checkpoint (pure). Anything unreadable is reported, never skipped: the caller refuses to act on it. */
export function decodeCheckpoint(text: string | null, context: { target: string; steps: number[] }): Decoded {
  if (text === null || text.trim() === "") return { kind: "none" };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { kind: "malformed", problem: `not valid JSON (${(e as Error).message})` };
  }
  const format = typeof raw === "object" && raw !== null ? (raw as { format?: unknown }).format : undefined;
  if (format === FORMAT_V1) {
    const v1 = CheckpointV1.safeParse(raw);
    if (!v1.success) return { kind: "malformed", problem: `schema-1 checkpoint does not parse: ${issues(v1.error)}` };
    return { kind: "ok", checkpoint: migrateV1(v1.data, context), migratedFrom: 1 };
  }
  if (format !== FORMAT) return { kind: "malformed", problem: `unknown format ${JSON.stringify(format)} (expected ${FORMAT})` };
  const v2 = CheckpointV2.safeParse(raw);
  if (!v2.success) return { kind: "malformed", problem: issues(v2.error) };
  return { kind: "ok", checkpoint: v2.data };
}

/**
 * Schema 1 (before owners, leases and in-flight moves): the target is the
 * one it was read from, the steps those of the current plan, no owner (its
 * lease has expired), and a promoted release is the last promotion.
 */
function migrateV1(c: z.infer<typeof CheckpointV1>, context: { target: string; steps: number[] }): Checkpoint {
  const { schema: _schema, ...rest } = c.state;
  const state = { ...rest, schema: 2 as const, moving: null } as RolloutState;
  return {
    format: FORMAT,
    releaseKey: c.releaseKey,
    target: context.target,
    steps: context.steps,
    owner: { id: "schema-1", host: "", pid: 0 },
    leaseUntil: 0,
    lastPromoted: state.phase === "promoted" ? { releaseKey: c.releaseKey, candidate: state.candidate, at: state.updatedAt } : null,
    state,
  };
}

/** JSON with non-finite numbers as strings (the schema reads them back). */
export function encodeCheckpoint(c: Checkpoint): string {
  return JSON.stringify(c, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? (Number.isNaN(v) ? null : String(v)) : v));
}

/** Identity of one release: a new candidate or a new retry token starts a new one. */
export const releaseKeyOf = (stable: string, candidate: string, retryToken: string | undefined) =>
  `${stable}->${candidate}${retryToken ? `#${retryToken}` : ""}`;

/**
 * Identity of one attempt at a release: its key and when it started. Slot
 * names repeat every other release (blue->green, green->blue, blue->green),
 * so an approval answers for an attempt, never for a key an old answer
 * could still name.
 */
export const attemptOf = (releaseKey: string, state: Pick<RolloutState, "startedAt">) => `${releaseKey}@${new Date(state.startedAt).toISOString()}`;

/**
 * Is this checkpoint (same release) consistent with it? Pure: the invariants
 * a state written by this engine always holds. A checkpoint that breaks one
 * could make the release jump ahead, so it is refused.
 */
export function inconsistency(
  c: Checkpoint,
  release: { releaseKey: string; stable: string; candidate: string; target: string; steps: number[]; gates: readonly string[] },
): string | null {
  const s = c.state;
  if (c.target !== release.target) return `it belongs to another target (${c.target})`;
  if (s.stable !== release.stable || s.candidate !== release.candidate)
    return `its revisions (stable ${s.stable}, candidate ${s.candidate}) are not this release's (stable ${release.stable}, candidate ${release.candidate})`;
  if (JSON.stringify(c.steps) !== JSON.stringify(release.steps))
    return `it was written for steps ${c.steps.join("/")}% and the release now has ${release.steps.join("/")}%`;
  if (s.phase === "interrupted") return null;
  const steps = release.steps;
  if (s.stepIndex >= steps.length) return `step ${s.stepIndex + 1} is beyond the release's ${steps.length} steps`;
  const last = steps.length - 1;
  const stepWeight = s.stepIndex >= 0 ? steps[s.stepIndex]! : 0;
  const previous = (i: number) => (i > 0 ? steps[i - 1]! : 0);
  const bad = (why: string) => `phase ${s.phase} ${why}`;
  // A move in flight is always the move into the current step: from the step before it (or from where a rollback started).
  const moveInto = (i: number) => s.moving === null || (s.moving.from === previous(i) && s.moving.to === steps[i]);
  const movingText = s.moving ? `a move from ${s.moving.from}% to ${s.moving.to}%` : "";
  // Every step before this one was earned: a record of it passing (or approved after it timed out).
  const earned = (upTo: number) => {
    for (let j = 0; j < upTo; j++)
      if (!s.records.some((r) => r.weight === steps[j] && (r.outcome === "pass" || r.outcome === "timeout")))
        return `no record of step ${j + 1} (${steps[j]}%) passing`;
    return null;
  };
  switch (s.phase) {
    case "gating":
      return s.stepIndex === -1 && s.weight === 0 && s.moving === null ? null : bad("with traffic on the candidate, or a move");
    case "analysing":
    case "held":
    case "promoting": {
      if (s.stepIndex < 0 || s.weight !== stepWeight) return bad(`at ${s.weight}% where step ${s.stepIndex + 1} is ${stepWeight}%`);
      if (!moveInto(s.stepIndex)) return bad(`with ${movingText}, not a move into step ${s.stepIndex + 1}`);
      // Promoting comes after the step it stands at has passed too.
      return earned(s.phase === "promoting" ? s.stepIndex + 1 : s.stepIndex);
    }
    case "switching":
    case "confirming": {
      if (s.weight !== 100 || s.stepIndex !== last) return bad(`at ${s.weight}% and step ${s.stepIndex + 1} of ${steps.length}`);
      if (!moveInto(last)) return bad(`with ${movingText}, not the move to 100%`);
      const missing = release.gates.filter((g) => !s.gatesPassed.includes(g));
      if (missing.length > 0) return bad(`without gates ${missing.join(", ")} passed`);
      return earned(last);
    }
    case "promoted":
      return s.weight === 100 && s.stepIndex === last && (s.moving === null || moveInto(last))
        ? null
        : bad(`at ${s.weight}% and step ${s.stepIndex + 1} of ${steps.length}`);
    case "rolled-back":
    case "rejected":
      if (s.weight !== 0) return bad(`at ${s.weight}%`);
      return s.moving === null || (s.moving.to === 0 && (s.moving.from === 0 || steps.includes(s.moving.from))) ? null : bad(`with ${movingText}`);
  }
}
