import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runtimeCommand } from "../../src/release/routers/haproxy";
import { freePort, startProcess, type Proc } from "./processes";

export interface Haproxy extends Proc {
  frontend: string;
  runtimeApi: string;
  metricsUrl: string;
  dir: string;
  stateFile: string;
}

/** Real HAProxy on loopback ports: one frontend, backend `be_app` with servers stable and candidate, the Prometheus exporter. */
export async function startHaproxy(
  stablePort: number,
  candidatePort: number,
  candidateWeight = 0,
  names: [string, string] = ["stable", "candidate"],
): Promise<Haproxy> {
  const [fe, rt, prom] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "haproxy-"));
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(
    cfg,
    `global
  stats socket ipv4@127.0.0.1:${rt} level admin
  maxconn 2000
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout tunnel 1h
frontend fe
  bind 127.0.0.1:${fe}
  default_backend be_app
frontend prometheus
  bind 127.0.0.1:${prom}
  http-request use-service prometheus-exporter if { path /metrics }
backend be_app
  balance roundrobin
  server ${names[0]} 127.0.0.1:${stablePort} weight ${100 - candidateWeight}
  server ${names[1]} 127.0.0.1:${candidatePort} weight ${candidateWeight}
`,
  );
  const started = await startProcess("haproxy", ["-db", "-f", cfg], {}).catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  // Stopping it removes its dir too (config, state file).
  const p = { ...started, stop: async () => (await started.stop(), rmSync(dir, { recursive: true, force: true })) };
  const runtimeApi = `127.0.0.1:${rt}`;
  // Ready when the runtime API answers.
  for (let i = 0; i < 100; i++) {
    const ok = await runtimeCommand(runtimeApi, "show info", 500).then(
      (a) => a.includes("Name: HAProxy"),
      () => false,
    );
    if (ok) break;
    if (i === 99 || p.child.exitCode !== null) {
      await p.stop();
      throw new Error(`haproxy runtime API did not come up:\n${p.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    ...p,
    frontend: `http://127.0.0.1:${fe}`,
    runtimeApi,
    metricsUrl: `http://127.0.0.1:${prom}/metrics`,
    dir,
    stateFile: join(dir, "rollout-state.json"),
  };
}
