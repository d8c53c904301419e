import type { ArmTotals } from "./source";
import { MetricsUnavailable, type MetricsReading, type MetricsSource } from "./source";

/**
 * PromQL selectors for one revision's counters; `{{revision}}` is replaced
 * by the revision (or server) name. Each list is summed. The built-ins
 * cover HAProxy's exporter and Cloud Run through Google Cloud Managed
 * Service for Prometheus, which serves the same HTTP API.
 *
 * What a query that finds nothing means (the evidence rule): a requests
 * selector, the latency histogram or the WebSocket counter with no series
 * makes the reading unavailable, never zero. An errors selector of the same
 * metric as a requests selector (the 5xx class of request_count) with no
 * series means no such errors: the metric exists, that label value has not
 * happened yet. Any other errors selector must return a series too.
 */
export interface PromTemplates {
  requests: string[];
  errors: string[];
  /** Histogram buckets (`_bucket` series with an `le` label). */
  latencyBuckets?: string;
  /** Unit of the `le` label. */
  latencyUnit: "s" | "ms";
  /**
   * WebSocket connections that ended abnormally (close codes other than
   * 1000/1001). Counted as failed requests, because a socket that drops is
   * what a WebSocket user experiences as an error.
   */
  wsAbnormalCloses?: string;
}

const haproxyServer = (backend: string, metric: string, extra = "") => `haproxy_server_${metric}{proxy="${backend}",server="{{revision}}"${extra}}`;
/**
 * Requests HAProxy could not deliver to a server: failed connections (a dead
 * server, answered by HAProxy's own 503), failed responses, retries and
 * redispatches. They count as the server's requests and as its errors.
 */
const undelivered = (backend: string) =>
  ["connection_errors_total", "response_errors_total", "retry_warnings_total", "redispatch_warnings_total"].map((m) => haproxyServer(backend, m));

export const TEMPLATES = {
  haproxy: (backend: string): PromTemplates => ({
    requests: [haproxyServer(backend, "http_responses_total"), ...undelivered(backend)],
    errors: [haproxyServer(backend, "http_responses_total", ',code="5xx"'), ...undelivered(backend)],
    latencyUnit: "s",
  }),
  cloudRun: (service: string): PromTemplates => ({
    requests: [`run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${service}",revision_name="{{revision}}"}`],
    errors: [
      `run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${service}",revision_name="{{revision}}",response_code_class="5xx"}`,
    ],
    latencyBuckets: `run_googleapis_com:request_latencies_bucket{monitored_resource="cloud_run_revision",service_name="${service}",revision_name="{{revision}}"}`,
    latencyUnit: "ms",
  }),
};

export interface PrometheusOptions {
  /** Base URL of a Prometheus-compatible HTTP API, e.g. http://127.0.0.1:9090 or GMP's frontend. */
  url: string;
  templates: PromTemplates;
  /** Extra headers (e.g. an OAuth bearer token for Managed Prometheus). Never logged. */
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** A requests series whose newest sample is older than this is stale: the reading is unavailable. */
  maxSampleAgeSeconds: number;
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** The metric name a selector reads (undefined for an expression that is not a plain selector). */
export const metricName = (selector: string) => /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^{}]*\})?\s*$/.exec(selector)?.[1];

export class PrometheusSource implements MetricsSource {
  readonly description: string;

  constructor(private readonly o: PrometheusOptions) {
    this.description = `prometheus ${o.url}`;
  }

  private async query(promql: string, at: number): Promise<VectorSample[]> {
    const url = `${this.o.url.replace(/\/$/, "")}/api/v1/query?query=${encodeURIComponent(promql)}&time=${(at / 1000).toFixed(3)}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.o.headers ?? {}, signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000), redirect: "error" });
    } catch (e) {
      throw new MetricsUnavailable(`${this.description}: ${(e as Error).message}`);
    }
    const body = (await res.json().catch(() => ({}))) as { status?: string; error?: string; data?: { resultType?: string; result?: VectorSample[] } };
    if (!res.ok || body.status !== "success") throw new MetricsUnavailable(`${this.description}: HTTP ${res.status} ${body.error ?? ""} for ${promql}`.trim());
    if (body.data?.resultType !== "vector")
      throw new MetricsUnavailable(`${this.description}: expected a vector result for ${promql}, got ${body.data?.resultType}`);
    return body.data.result ?? [];
  }

  /** The sum of a selector's series; `absent` says what no series means (unavailable, or zero events). */
  private async sum(selector: string, at: number, absent: "unavailable" | "zero"): Promise<number> {
    const r = await this.query(`sum(${selector})`, at);
    if (r.length === 0) {
      if (absent === "zero") return 0;
      throw new MetricsUnavailable(`${this.description}: no series for ${selector} (a query that finds nothing is no data, not zero)`);
    }
    const v = Number(r[0]!.value[1]);
    if (!Number.isFinite(v)) throw new MetricsUnavailable(`${this.description}: ${selector} is ${r[0]!.value[1]}`);
    return v;
  }

  /** Refuses data whose newest sample is too old, or whose scrape target is down. */
  private async fresh(selector: string, at: number): Promise<void> {
    const [ts, up] = await Promise.all([this.query(`min(timestamp(${selector}))`, at), this.query(`min(up and on(job, instance) (${selector}))`, at)]);
    const newest = ts.length > 0 ? Number(ts[0]!.value[1]) : NaN;
    const age = at / 1000 - newest;
    if (!Number.isFinite(age)) throw new MetricsUnavailable(`${this.description}: no series for ${selector}`);
    if (age > this.o.maxSampleAgeSeconds)
      throw new MetricsUnavailable(
        `${this.description}: ${selector} is stale (its oldest series' newest sample is ${Math.round(age)} s old; limit ${this.o.maxSampleAgeSeconds} s)`,
      );
    if (up.length > 0 && Number(up[0]!.value[1]) === 0) throw new MetricsUnavailable(`${this.description}: the scrape target of ${selector} is down (up == 0)`);
  }

  private async totals(revision: string, at: number): Promise<ArmTotals> {
    const t = this.o.templates;
    const fill = (s: string) => s.replaceAll("{{revision}}", revision);
    const requestMetrics = new Set(t.requests.map(metricName).filter((m) => m !== undefined));
    const [requests, errors, closes] = await Promise.all([
      Promise.all([this.fresh(fill(t.requests[0]!), at), ...t.requests.map((s) => this.sum(fill(s), at, "unavailable"))]).then(([, ...v]) =>
        v.reduce((a, b) => a + (b ?? 0), 0),
      ),
      Promise.all(t.errors.map((s) => this.sum(fill(s), at, requestMetrics.has(metricName(s) ?? "") ? "zero" : "unavailable"))).then((v) =>
        v.reduce((a, b) => a + b, 0),
      ),
      t.wsAbnormalCloses ? this.sum(fill(t.wsAbnormalCloses), at, "unavailable") : Promise.resolve(0),
    ]);
    let latency: ArmTotals["latency"] = [];
    if (t.latencyBuckets) {
      const scale = t.latencyUnit === "s" ? 1000 : 1;
      const buckets = await this.query(`sum by (le) (${fill(t.latencyBuckets)})`, at);
      if (buckets.length === 0) throw new MetricsUnavailable(`${this.description}: no series for ${fill(t.latencyBuckets)} (the latency histogram)`);
      latency = buckets
        .map((b) => ({ le: b.metric["le"] === "+Inf" ? Infinity : Number(b.metric["le"]) * scale, count: Number(b.value[1]) }))
        .filter((b) => !Number.isNaN(b.le) && Number.isFinite(b.count))
        .sort((a, b) => a.le - b.le);
    }
    // Abnormal WebSocket closes are failed requests of the arm (its sessions), counted on both sides of the ratio.
    return { requests: Math.round(requests + closes), errors: Math.round(errors + closes), latency };
  }

  async read(candidate: string, stable: string, at: number): Promise<MetricsReading> {
    const [c, s] = await Promise.all([this.totals(candidate, at), this.totals(stable, at)]);
    return { at, candidate: c, stable: s };
  }

  async readArm(revision: string, at: number): Promise<ArmTotals> {
    return this.totals(revision, at);
  }
}
