import type { RolloutState } from "./sequencer";

/**
 * The checkpoint stored on the target: the sequencer's state plus the
 * release key it belongs to. A checkpoint of another release key is a
 * previous release's record, never something to resume.
 */
export interface Checkpoint {
  format: "progressive-delivery/checkpoint@1";
  releaseKey: string;
  state: RolloutState;
}

export function encodeCheckpoint(releaseKey: string, state: RolloutState): string {
  const c: Checkpoint = { format: "progressive-delivery/checkpoint@1", releaseKey, state };
  return JSON.stringify(c);
}

/** Parses a stored checkpoint; anything unreadable counts as absent (and is reported by the caller). */
export function decodeCheckpoint(text: string | null): { checkpoint: Checkpoint | null; problem?: string } {
  if (text === null || text.trim() === "") return { checkpoint: null };
  try {
    const c = JSON.parse(text) as Partial<Checkpoint>;
    if (c.format !== "progressive-delivery/checkpoint@1" || typeof c.releaseKey !== "string" || typeof c.state !== "object" || c.state === null) {
      return { checkpoint: null, problem: "checkpoint has an unknown format" };
    }
    return { checkpoint: c as Checkpoint };
  } catch (e) {
    return { checkpoint: null, problem: `checkpoint is not valid JSON (${(e as Error).message})` };
  }
}

/** Identity of one release attempt: a new candidate or a new retry token starts a new one. */
export const releaseKeyOf = (stable: string, candidate: string, retryToken: string | undefined) => `${stable}->${candidate}${retryToken ? `#${retryToken}` : ""}`;
