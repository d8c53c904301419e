import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startProcess, type Proc } from "./processes";

export interface Prometheus extends Proc {
  url: string;
  dir: string;
}

/** Real Prometheus (Debian's package) on a loopback port, scraping `targets` every second. */
export async function startPrometheus(targets: { job: string; address: string }[]): Promise<Prometheus> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "prometheus-"));
  const cfg = join(dir, "prometheus.yml");
  const jobs = targets
    .map((t) => `  - job_name: ${t.job}\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n    static_configs:\n      - targets: ["${t.address}"]`)
    .join("\n");
  writeFileSync(cfg, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs}\n`);
  const started = await startProcess(
    "prometheus",
    [`--config.file=${cfg}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
    {},
  ).catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  // Stopping it removes its dir too (config, TSDB).
  const p = { ...started, stop: async () => (await started.stop(), rmSync(dir, { recursive: true, force: true })) };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(500) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i === 199 || p.child.exitCode !== null) {
      await p.stop();
      throw new Error(`prometheus did not become ready:\n${p.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...p, url, dir };
}

/** Waits until Prometheus has scraped every target at least once (bounded). */
export async function waitForTargets(prom: Prometheus, count: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const body = (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent("sum(up)")}`).then((r) => r.json())) as {
      data: { result: { value: [number, string] }[] };
    };
    if (Number(body.data.result[0]?.value[1] ?? 0) >= count) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`prometheus did not see ${count} targets up within ${timeoutMs} ms`);
}

/** Waits until a query returns at least one series: a target being up does not yet mean its samples are in. */
export async function waitForSeries(prom: Prometheus, query: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const body = (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(query)}`).then((r) => r.json())) as { data: { result: unknown[] } };
    if (body.data.result.length > 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`prometheus has no series for ${query} after ${timeoutMs} ms (its targets were up)`);
}
