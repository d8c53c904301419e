import type { LiveSplit } from "../split";

/**
 * One interface for every traffic target. An adapter reads the whole live
 * split, moves weights between exactly two arms (stable and candidate), and
 * stores the rollout's checkpoint on the target itself, written as a
 * compare-and-swap together with (or before) each weight change.
 */
export interface Router {
  /** e.g. "haproxy be_app (stable v1, candidate v2)", for logs and messages. */
  readonly description: string;
  /** The target's identity, recorded in checkpoints: "cloud-run:projects/p/locations/r/services/s". */
  readonly target: string;
  /** Gets the candidate ready at 0% (Cloud Run: tags it for its own URL) without moving traffic. Idempotent. */
  prepare(write: CheckpointWrite): Promise<void>;
  /** Every arm of the target with its share of new requests. */
  readSplit(): Promise<LiveSplit>;
  /** Candidate gets `weight`%, stable the rest, every other arm keeps its (zero) share. */
  setWeight(weight: number, write: CheckpointWrite): Promise<void>;
  /** 100% to stable; then ends the candidate's open connections where the target can, at once or after a drain. */
  rollback(write: CheckpointWrite, plan: DrainPlan): Promise<RollbackResult>;
  readCheckpoint(): Promise<string | null>;
  /** Stores the checkpoint alone (phase changes that move no traffic, lease renewals). */
  saveCheckpoint(write: CheckpointWrite): Promise<void>;
  /** A URL that reaches only the candidate (smoke tests, health, the WebSocket probe), if the target has one. */
  candidateUrl(): Promise<string | undefined>;
  /** A URL that reaches only stable (the WebSocket probe's comparison arm), if the target has one. */
  stableUrl(): Promise<string | undefined>;
  /** Headers a request to those URLs carries (Cloud Run: an ID token for the service, which may be private). */
  callerHeaders?(): Promise<Record<string, string>>;
}

/**
 * A target stepped in lockstep with the router (Vercel's rolling release):
 * it follows the router's moves and has no checkpoint of its own.
 */
export interface Follower {
  readonly description: string;
  setWeight(weight: number): Promise<void>;
  rollback(): Promise<void>;
}

/**
 * A checkpoint to write. The router calls `guard` with the text stored on
 * the target and the live split, read right before it writes (inside its
 * compare-and-swap: etag, resourceVersion or a lock): it throws LeaseLost
 * when another engine wrote since, or SplitChanged when the split is not
 * what the release expects; the router then writes nothing and moves nothing.
 */
export interface CheckpointWrite {
  text: string;
  guard(stored: string | null, live: LiveSplit): void;
}

export type DrainPlan = { mode: "immediate" } | { mode: "drain"; drainMs: number };

export interface RollbackResult {
  /** True when the candidate holds no open connection any more. */
  drained: boolean;
  /** What happened to the candidate's open connections, in words (the release record keeps it). */
  note: string;
}

/** A router call failed; `retryable` says whether another attempt may help, `retryAfterMs` is the server's hint. */
export class RouterError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "RouterError";
  }
}

/** The checkpoint on the target was written by someone else since this engine last read it: stop, move nothing. */
export class LeaseLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LeaseLost";
  }
}

/** The live split changed under the release (someone else moved traffic): stop, move nothing. */
export class SplitChanged extends Error {
  constructor(readonly live: LiveSplit) {
    super("the live split is not what the release expects");
    this.name = "SplitChanged";
  }
}

/** Longest server-requested pause honoured (a Retry-After of a day is a server bug, not a plan). */
export const MAX_RETRY_AFTER_MS = 30_000;

/** What a traffic split lives on, as the fields that name it (not how it is reached or checked). */
export type TargetIdentity =
  | { kind: "cloud-run"; project: string; region: string; service: string }
  | { kind: "haproxy"; runtimeApi: string; backend: string }
  | { kind: "http-route"; namespace: string; name: string; ruleIndex: number };

/**
 * The one name of a split's home: the router's `target`, the resource's id, the
 * checkpoint's owner check, and what a change must touch to be a replacement
 * (a new candidate URL or endpoint is not a new split).
 */
export function targetIdOf(t: TargetIdentity): string {
  switch (t.kind) {
    case "cloud-run":
      return `cloud-run:projects/${t.project}/locations/${t.region}/services/${t.service}`;
    case "haproxy":
      return `haproxy:${t.runtimeApi}/${t.backend}`;
    case "http-route":
      return `http-route:${t.namespace}/${t.name}#${t.ruleIndex}`;
  }
}

/**
 * One classifier for HTTP failures of every adapter: 409 (a concurrent
 * change), 429 and 5xx are worth another try, as is a request that got no
 * answer (status undefined). A Retry-After of seconds is a hint, capped;
 * a missing, zero or unreadable one is no hint.
 */
export function httpError(what: string, status: number | undefined, detail: string, retryAfter?: string | null): RouterError {
  const retryable = status === undefined || status === 409 || status === 429 || status >= 500;
  const seconds = retryAfter ? Number(retryAfter) : NaN;
  const hint = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
  return new RouterError(`${what}: ${status !== undefined ? `HTTP ${status} ` : ""}${detail}`, retryable, retryable ? hint : undefined);
}

/** Integer weights for two arms that always sum to 100. */
export function split(weight: number): { candidate: number; stable: number } {
  const candidate = Math.min(100, Math.max(0, Math.round(weight)));
  return { candidate, stable: 100 - candidate };
}
