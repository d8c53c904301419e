/**
 * One interface for every traffic target. An adapter moves weights between
 * exactly two versions (stable and candidate) and stores the rollout's
 * checkpoint on the target itself, so the live weights and the checkpoint
 * can be read back together after an interruption.
 */
export interface Router {
  /** e.g. "haproxy be_app (stable v1, candidate v2)", for logs and messages. */
  readonly description: string;
  /** Gets the candidate ready at 0% (Cloud Run: tags it for its own URL). Idempotent. */
  prepare(): Promise<void>;
  /** The candidate's live share of traffic, 0..100. */
  currentWeight(): Promise<number>;
  /** Candidate gets `weight`%, stable the rest; the checkpoint is written in the same call where the target allows. */
  setWeight(weight: number, checkpoint: string): Promise<void>;
  /** 100% to stable in one call; then closes the candidate's open connections where the target can. */
  rollback(checkpoint: string): Promise<{ drained: boolean; note: string }>;
  readCheckpoint(): Promise<string | null>;
  /** Stores the checkpoint alone (phase changes that move no traffic). */
  saveCheckpoint(checkpoint: string): Promise<void>;
  /** A URL that reaches only the candidate (smoke tests before any traffic), if the target has one. */
  candidateUrl(): Promise<string | undefined>;
}

/** A router call failed in a way retrying will not fix (bad credentials, unknown revision). */
export class RouterError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "RouterError";
  }
}

/** Integer weights for two arms that always sum to 100. */
export function split(weight: number): { candidate: number; stable: number } {
  const candidate = Math.min(100, Math.max(0, Math.round(weight)));
  return { candidate, stable: 100 - candidate };
}
