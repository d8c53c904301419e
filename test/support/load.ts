/**
 * A bounded load generator on loopback: fixed request rate, fixed duration,
 * stops by itself. Counts answers by the backend version that served them.
 */
export interface LoadResult {
  sent: number;
  byVersion: Record<string, { ok: number; failed: number }>;
  networkErrors: number;
}

export interface Load {
  done: Promise<LoadResult>;
  stop(): void;
  snapshot(): LoadResult;
}

export function startLoad(url: string, rps: number, durationMs: number): Load {
  if (!/^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])[:/]/.test(url)) throw new Error(`load only targets loopback, not ${url}`);
  const result: LoadResult = { sent: 0, byVersion: {}, networkErrors: 0 };
  const maxRequests = Math.ceil((rps * durationMs) / 1000);
  const started = Date.now();
  let stopped = false;
  const inflight = new Set<Promise<void>>();
  const done = (async () => {
    while (!stopped && result.sent < maxRequests && Date.now() - started < durationMs) {
      result.sent++;
      const p = fetch(url, { signal: AbortSignal.timeout(5000) })
        .then(async (res) => {
          const v = res.headers.get("x-version") ?? "none";
          await res.arrayBuffer();
          const e = (result.byVersion[v] ??= { ok: 0, failed: 0 });
          if (res.status < 500) e.ok++;
          else e.failed++;
        })
        .catch(() => void result.networkErrors++)
        .finally(() => inflight.delete(p));
      inflight.add(p);
      const next = started + (result.sent * 1000) / rps;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    await Promise.all(inflight);
    return result;
  })();
  return { done, stop: () => void (stopped = true), snapshot: () => structuredClone(result) };
}
