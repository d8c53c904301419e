import type { ReleaseConfig } from "../../config/schema";
import { messageText } from "../metrics/websocketProbe";
import { pathOn } from "./http";

export type SmokeConfig = ReleaseConfig["smokeTests"];

export interface CheckResult {
  check: string;
  critical: boolean;
  ok: boolean;
  attempts: number;
  detail: string;
}

export interface SmokeReport {
  passed: boolean;
  results: CheckResult[];
  /** One line for the decision record and the failure message. */
  summary: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function httpCheck(base: string, path: string, cfg: SmokeConfig, headers: Record<string, string>): Promise<{ ok: boolean; detail: string }> {
  const started = performance.now();
  try {
    const res = await fetch(pathOn(base, path), { headers, signal: AbortSignal.timeout(cfg.maxLatencyMs * 2), redirect: "manual" });
    await res.arrayBuffer();
    const ms = Math.round(performance.now() - started);
    if (res.status !== cfg.expectStatus) return { ok: false, detail: `GET ${path}: status ${res.status}, expected ${cfg.expectStatus}` };
    if (ms > cfg.maxLatencyMs) return { ok: false, detail: `GET ${path}: ${ms} ms, limit ${cfg.maxLatencyMs} ms` };
    return { ok: true, detail: `GET ${path}: ${res.status} in ${ms} ms` };
  } catch (e) {
    return { ok: false, detail: `GET ${path}: ${(e as Error).message}` };
  }
}

async function websocketCheck(base: string, path: string, cfg: SmokeConfig, headers: Record<string, string>): Promise<{ ok: boolean; detail: string }> {
  const { WebSocket } = await import("ws");
  const url = pathOn(base, path);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const token = `smoke-${Math.random().toString(36).slice(2)}`;
  const started = performance.now();
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: cfg.maxLatencyMs });
    const done = (ok: boolean, detail: string) => {
      clearTimeout(timer);
      ws.terminate();
      resolve({ ok, detail });
    };
    const timer = setTimeout(() => done(false, `WS ${path}: no echo within ${cfg.maxLatencyMs * 2} ms`), cfg.maxLatencyMs * 2);
    ws.on("open", () => ws.send(token));
    ws.on("message", (data) => {
      const ms = Math.round(performance.now() - started);
      const echoed = messageText(data);
      if (echoed === token) done(true, `WS ${path}: upgrade + echo in ${ms} ms`);
      else done(false, `WS ${path}: echoed ${JSON.stringify(echoed.slice(0, 40))} instead of the token`);
    });
    ws.on("unexpected-response", (_req, res) => done(false, `WS ${path}: upgrade refused with HTTP ${res.statusCode}`));
    ws.on("error", (e) => done(false, `WS ${path}: ${e.message}`));
  });
}

/**
 * Runs the smoke checks against the candidate's own URL, each retried with
 * exponential backoff. A critical failure rejects the candidate (at once
 * with failFast); a non-critical one is reported only.
 */
export async function runSmokeTests(
  candidateUrl: string,
  cfg: SmokeConfig,
  opts: { headers?: Record<string, string>; baseDelayMs?: number } = {},
): Promise<SmokeReport> {
  const headers = opts.headers ?? {};
  const checks: { name: string; critical: boolean; run: () => Promise<{ ok: boolean; detail: string }> }[] = [
    ...cfg.paths.map((p) => ({ name: `GET ${p}`, critical: true, run: () => httpCheck(candidateUrl, p, cfg, headers) })),
    ...(cfg.websocketPath
      ? [{ name: `WS ${cfg.websocketPath}`, critical: true, run: () => websocketCheck(candidateUrl, cfg.websocketPath!, cfg, headers) }]
      : []),
    ...cfg.optionalPaths.map((p) => ({ name: `GET ${p}`, critical: false, run: () => httpCheck(candidateUrl, p, cfg, headers) })),
  ];
  const results: CheckResult[] = [];
  for (const check of checks) {
    let last = { ok: false, detail: "not run" };
    let attempts = 0;
    for (let i = 0; i <= cfg.retries; i++) {
      attempts++;
      last = await check.run();
      if (last.ok) break;
      if (i < cfg.retries) await sleep((opts.baseDelayMs ?? 250) * 2 ** i);
    }
    results.push({ check: check.name, critical: check.critical, ok: last.ok, attempts, detail: last.detail });
    if (!last.ok && check.critical && cfg.failFast) break;
  }
  const failed = results.filter((r) => !r.ok && r.critical);
  const warned = results.filter((r) => !r.ok && !r.critical);
  const summary = failed.length
    ? `${failed.length} critical check(s) failed on ${candidateUrl}: ${failed.map((r) => `${r.detail} (after ${r.attempts} attempt(s))`).join("; ")}`
    : `all ${results.length} check(s) passed on ${candidateUrl}${warned.length ? `; non-critical failures: ${warned.map((r) => r.detail).join("; ")}` : ""}`;
  return { passed: failed.length === 0, results, summary };
}
