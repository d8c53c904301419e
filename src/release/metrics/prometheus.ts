import { MetricsUnavailable, type ArmTotals, type MetricsReading, type MetricsSource } from "./source";

/**
 * PromQL selectors for one revision's counters; `{{revision}}` is replaced
 * by the revision (or server) name. The built-ins below cover HAProxy's
 * exporter and Cloud Run through Google Cloud Managed Service for
 * Prometheus, which serves the same HTTP API.
 */
export interface PromTemplates {
  requests: string;
  errors: string;
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

export const TEMPLATES = {
  haproxy: (backend: string): PromTemplates => ({
    requests: `haproxy_server_http_responses_total{proxy="${backend}",server="{{revision}}"}`,
    errors: `haproxy_server_http_responses_total{proxy="${backend}",server="{{revision}}",code="5xx"}`,
    latencyUnit: "s",
  }),
  cloudRun: (service: string): PromTemplates => ({
    requests: `run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${service}",revision_name="{{revision}}"}`,
    errors: `run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${service}",revision_name="{{revision}}",response_code_class="5xx"}`,
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
}

interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export class PrometheusSource implements MetricsSource {
  readonly description: string;

  constructor(private readonly o: PrometheusOptions) {
    this.description = `prometheus ${o.url}`;
  }

  private async query(promql: string, at: number): Promise<VectorSample[]> {
    const url = `${this.o.url.replace(/\/$/, "")}/api/v1/query?query=${encodeURIComponent(promql)}&time=${(at / 1000).toFixed(3)}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.o.headers ?? {}, signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
    } catch (e) {
      throw new MetricsUnavailable(`${this.description}: ${(e as Error).message}`);
    }
    const body = (await res.json().catch(() => ({}))) as { status?: string; error?: string; data?: { resultType?: string; result?: VectorSample[] } };
    if (!res.ok || body.status !== "success") throw new MetricsUnavailable(`${this.description}: HTTP ${res.status} ${body.error ?? ""} for ${promql}`.trim());
    if (body.data?.resultType !== "vector") throw new MetricsUnavailable(`${this.description}: expected a vector result for ${promql}, got ${body.data?.resultType}`);
    return body.data.result ?? [];
  }

  private async scalar(promql: string, at: number): Promise<number> {
    const r = await this.query(`sum(${promql})`, at);
    // No series yet (a revision that has served nothing) is zero, not an error.
    const v = r.length === 0 ? 0 : Number(r[0]!.value[1]);
    return Number.isFinite(v) ? v : 0;
  }

  private async totals(revision: string, at: number): Promise<ArmTotals> {
    const fill = (t: string) => t.replaceAll("{{revision}}", revision);
    const ws = this.o.templates.wsAbnormalCloses;
    const [requests, httpErrors, closes] = await Promise.all([
      this.scalar(fill(this.o.templates.requests), at),
      this.scalar(fill(this.o.templates.errors), at),
      ws ? this.scalar(fill(ws), at) : Promise.resolve(0),
    ]);
    const errors = httpErrors + closes;
    let latency: ArmTotals["latency"] = [];
    if (this.o.templates.latencyBuckets) {
      const scale = this.o.templates.latencyUnit === "s" ? 1000 : 1;
      const buckets = await this.query(`sum by (le) (${fill(this.o.templates.latencyBuckets)})`, at);
      latency = buckets
        .map((b) => ({ le: b.metric["le"] === "+Inf" ? Infinity : Number(b.metric["le"]) * scale, count: Number(b.value[1]) }))
        .filter((b) => !Number.isNaN(b.le) && Number.isFinite(b.count))
        .sort((a, b) => a.le - b.le);
    }
    return { requests: Math.round(requests), errors: Math.round(errors), latency };
  }

  async read(candidate: string, stable: string, at: number): Promise<MetricsReading> {
    const [c, s] = await Promise.all([this.totals(candidate, at), this.totals(stable, at)]);
    return { at, candidate: c, stable: s };
  }
}
