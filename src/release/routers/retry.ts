import { RouterError } from "./router";

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Retries retryable failures with exponential backoff and full jitter
 * (the AWS architecture blog's recommendation); a `retryAfterMs` on the
 * error (HTTP 429 Retry-After) takes precedence.
 */
export async function withRetry<T>(what: string, fn: (attempt: number) => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY, onRetry?: (e: Error, attempt: number, delayMs: number) => void): Promise<T> {
  let last: Error | undefined;
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      last = e instanceof Error ? e : new Error(String(e));
      if (last instanceof RouterError && !last.retryable) throw last;
      if (attempt === policy.attempts) break;
      const hinted = (last as { retryAfterMs?: number }).retryAfterMs;
      const delay = hinted ?? Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      onRetry?.(last, attempt, delay);
      await sleep(delay);
    }
  }
  throw new RouterError(`${what} failed after ${policy.attempts} attempt(s): ${last?.message}`, false);
}
