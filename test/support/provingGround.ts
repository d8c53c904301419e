import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { deepMerge, releaseDefaults } from "../../src/config/defaults";
import { ReleaseConfig } from "../../src/config/schema";
import { runtimeCommand } from "../../src/release/routers/haproxy";
import { startFaultProxy, type FaultProxy } from "./faultProxy";
import { startLoad, type Load } from "./load";
import { startHaproxy, type Haproxy } from "./haproxy";
import { startSampleBackend, type Proc } from "./processes";
import { hostTrafficSplit } from "./providerHost";
import { startPrometheus, waitForSeries, waitForTargets, type Prometheus } from "./prometheus";

export type Slot = "blue" | "green";
type Backend = Proc & { port: number; url: string };

/**
 * The proving ground: two sample backends (blue and green slots) behind a
 * real HAProxy whose weights only the release engine moves, HAProxy's
 * Prometheus exporter and the backends' own metrics scraped every second by
 * a real Prometheus. Everything on loopback, started and stopped by the test.
 */
export class ProvingGround {
  backends = {} as Record<Slot, Backend>;
  haproxy!: Haproxy;
  prometheus!: Prometheus;
  /** Prometheus scrapes HAProxy's exporter through this proxy, so a test can cut the scrape path. */
  scrapePath!: FaultProxy;

  static async start(opts: {
    blue: { version: string; faults?: string[] };
    green: { version: string; faults?: string[] };
    active?: Slot;
  }): Promise<ProvingGround> {
    const g = new ProvingGround();
    g.backends.blue = await startSampleBackend(opts.blue.version, ["--slot", "blue", ...(opts.blue.faults ?? [])]);
    g.backends.green = await startSampleBackend(opts.green.version, ["--slot", "green", ...(opts.green.faults ?? [])]);
    const active = opts.active ?? "blue";
    g.haproxy = await startHaproxy(g.backends.blue.port, g.backends.green.port, active === "blue" ? 0 : 100, ["blue", "green"]);
    const exporter = g.haproxy.metricsUrl.replace(/^http:\/\//, "").replace(/\/metrics$/, "");
    g.scrapePath = await startFaultProxy(exporter);
    g.prometheus = await startPrometheus([
      { job: "haproxy", address: g.scrapePath.address },
      { job: "blue", address: `127.0.0.1:${g.backends.blue.port}` },
      { job: "green", address: `127.0.0.1:${g.backends.green.port}` },
    ]);
    await waitForTargets(g.prometheus, 3);
    // The release reads HAProxy's per-server series: the ground is ready once they are in, not only once the scrape is up.
    await waitForSeries(g.prometheus, 'haproxy_server_http_responses_total{proxy="be_app"}');
    return g;
  }

  /** Restarts one slot's backend on the same port with a new version and faults (a new release in that slot). */
  async redeploy(slot: Slot, version: string, faults: string[] = []): Promise<void> {
    const port = this.backends[slot].port;
    await this.backends[slot].stop();
    this.backends[slot] = await startSampleBackend(version, ["--slot", slot, ...faults], port);
  }

  /** Both servers' live weights, read straight from HAProxy's runtime API (not through the router under test). */
  async weights(): Promise<Record<Slot, number>> {
    const w = async (s: Slot) => Number((await runtimeCommand(this.haproxy.runtimeApi, `get weight be_app/${s}`)).trim().split(" ")[0]);
    return { blue: await w("blue"), green: await w("green") };
  }

  /** Sets both servers' weights by hand through the runtime API (a person changing the split). */
  async setWeightsByHand(w: Record<Slot, number>): Promise<void> {
    for (const s of ["blue", "green"] as const) await runtimeCommand(this.haproxy.runtimeApi, `set weight be_app/${s} ${w[s]}`);
  }

  /** Kills one slot's backend at once (SIGKILL): a candidate that dies mid-step. */
  kill(slot: Slot): void {
    this.backends[slot].child.kill("SIGKILL");
  }

  /** Stops Prometheus (an outage of the metrics source). */
  async stopPrometheus(): Promise<void> {
    await this.prometheus.stop();
  }

  /** TrafficSplit target and metrics inputs for this ground. */
  target() {
    return { kind: "haproxy" as const, runtimeApi: this.haproxy.runtimeApi, backend: "be_app", stateFile: join(this.haproxy.dir, "rollout-state.json") };
  }

  metrics() {
    return {
      url: this.prometheus.url,
      preset: "haproxy" as const,
      scope: "be_app",
      // Requests and 5xx from HAProxy's exporter; latency from the backends' own histogram (the exporter has none).
      templates: {
        latencyBuckets: 'sample_http_request_duration_seconds_bucket{slot="{{revision}}"}',
        latencyUnit: "s" as const,
        wsAbnormalCloses: 'sample_websocket_abnormal_closes_total{slot="{{revision}}"}',
      },
      auth: "none" as const,
    };
  }

  candidateUrl(slot: Slot) {
    return this.backends[slot].url;
  }

  /** A TrafficSplit's inputs on this ground: `candidate` over `stable` with the shared release settings, 1 s metric windows. */
  splitInputs(stable: Slot, candidate: Slot, steps: number[], extra: Record<string, unknown> = {}) {
    return {
      target: { ...this.target(), candidateUrl: this.candidateUrl(candidate), stableUrl: this.candidateUrl(stable) },
      stable,
      candidate,
      release: provingGroundRelease(steps),
      metrics: this.metrics(),
      intervalSeconds: 1,
      deadlineSeconds: 240,
      ...extra,
    };
  }

  async stop(): Promise<void> {
    await Promise.all([this.prometheus?.stop(), this.scrapePath?.stop(), this.haproxy?.stop(), this.backends.blue?.stop(), this.backends.green?.stop()]);
  }
}

/**
 * Release settings the proving-ground scenarios share: production's release
 * defaults with a fast canary (3 s bake, at most 60 s a step, 20 requests a
 * step, a 2 s drain) for live load of 60 req/s, and the one criterion the
 * scenarios were tuned with.
 */
export const provingGroundRelease = (steps: number[]) => {
  const overrides = {
    smokeTests: { paths: ["/health", "/ready"], websocketPath: "/ws", retries: 2, failFast: true },
    steps,
    bakeSeconds: 3,
    maxStepSeconds: 60,
    drainSeconds: 2,
    analysis: { expectedRps: 60, metricsUnavailableLimitSeconds: 15, minRequests: 20, websocketProbe: { path: "/ws", messagesPerSecond: 5, timeoutMs: 1000 } },
  };
  const release = ReleaseConfig.parse(deepMerge(releaseDefaults("production", overrides), overrides));
  if (release.strategy !== "canary") throw new Error("the proving ground runs canaries");
  return { ...release, analysis: { ...release.analysis, stepCriteria: { "10": { errorRate: 0.05, p95LatencyMs: 1000 } } } };
};

/** What a test file on the proving ground uses: the ground, its load and, when asked for, a hosted TrafficSplit. */
export type ProvingGroundFixture = { ground: ProvingGround; load: Load } & Awaited<ReturnType<typeof hostTrafficSplit>>;

/**
 * Starts the proving ground for a test file (blue v1 serving, green v2 idle),
 * steady load through HAProxy (60 req/s, bounded by `loadMs`) and, with
 * `split`, a TrafficSplit in the SDK's dynamic-provider host (its provider
 * text, fake engine and host); stops all of it after the file. Its fields
 * are set once the file's tests start; without `split` those three are unset.
 */
export function withProvingGround(o: { loadMs: number; split?: { name: string; release: object } }): ProvingGroundFixture {
  const f = {} as Partial<ProvingGroundFixture>;
  beforeAll(async () => {
    f.ground = await ProvingGround.start({ blue: { version: "v1" }, green: { version: "v2" }, active: "blue" });
    if (o.split) Object.assign(f, await hostTrafficSplit(o.split.name, o.split.release));
    f.load = startLoad(`${f.ground.haproxy.frontend}/api`, 60, o.loadMs);
  }, 60_000);
  afterAll(async () => {
    f.load?.stop();
    await f.load?.done;
    await f.host?.stop();
    await f.engine?.stop();
    await f.ground?.stop();
  });
  return f as ProvingGroundFixture;
}
