import { LeaseLost, RouterError, SplitChanged } from "./router";

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Epoch ms after which no retry sleeps (the rollout's own end); none: unbounded by time. */
  deadline?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Retries retryable failures with exponential backoff and full jitter
 * (the AWS architecture blog's recommendation); a server's Retry-After hint
 * (already capped by httpError) takes precedence. Never sleeps past
 * `deadline` (epoch ms): the last failure is reported instead. A LeaseLost,
 * a SplitChanged or a non-retryable RouterError ends at once.
 */
export async function withRetry<T>(
  what: string,
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY,
  deadline = policy.deadline ?? Infinity,
): Promise<T> {
  let last: Error | undefined;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      last = e instanceof Error ? e : new Error(String(e));
      if (last instanceof LeaseLost || last instanceof SplitChanged || (last instanceof RouterError && !last.retryable)) throw last;
      if (attempt === policy.attempts) break;
      const hinted = last instanceof RouterError ? last.retryAfterMs : undefined;
      const delay = hinted ?? Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      if (Date.now() + delay > deadline) {
        throw new RouterError(`${what} failed after ${attempt} attempt(s), stopped before the deadline: ${last.message}`, false);
      }
      await sleep(delay);
    }
  }
  throw new RouterError(`${what} failed after ${policy.attempts} attempt(s): ${last?.message}`, false);
}
