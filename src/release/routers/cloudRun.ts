import { RouterError, split, type Router } from "./router";
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from "./retry";

/**
 * Cloud Run Admin API v2 over REST, authorized by google-auth-library.
 * Why REST and not @google-cloud/run: the generated client speaks gRPC
 * through google-gax, a heavy dependency for the three calls we make
 * (services.get, services.patch, operations.get), and its transport cannot
 * be pointed at a plain local HTTP server in tests. google-auth-library
 * still does the authentication (ADC, Workload Identity Federation).
 */

export interface CloudRunTarget {
  project: string;
  region: string;
  service: string;
  /** Defaults to the public API; tests point it at a local server. */
  endpoint?: string;
  /** Tag that gives the candidate its own URL (https://TAG---SERVICE-HASH.a.run.app). */
  candidateTag?: string;
  /** Per-request timeout; a timed-out request is retried like a 5xx. */
  requestTimeoutMs?: number;
}

/** The part of google-auth-library's AuthClient we use (gaxios request). */
export interface AuthorizedClient {
  request<T>(opts: { url: string; method?: string; data?: unknown; headers?: Record<string, string>; timeout?: number; retry?: boolean }): Promise<{ data: T; status: number; headers?: unknown }>;
}

interface TrafficTarget {
  type?: string;
  revision?: string;
  percent?: number;
  tag?: string;
}

interface Service {
  name: string;
  etag?: string;
  annotations?: Record<string, string>;
  traffic?: TrafficTarget[];
  trafficStatuses?: (TrafficTarget & { uri?: string })[];
  uri?: string;
}

interface Operation {
  name: string;
  done?: boolean;
  error?: { code: number; message: string };
}

export const CHECKPOINT_ANNOTATION = "delivery.progressive.dev/rollout";
const REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION";

/** Maps an HTTP failure to retryable or not: 409 (etag race), 429 and 5xx are worth another try. */
function classify(e: unknown, what: string): RouterError {
  const err = e as { response?: { status?: number; data?: { error?: { message?: string } }; headers?: Record<string, string> }; message?: string; code?: string };
  const status = err.response?.status;
  const detail = err.response?.data?.error?.message ?? err.message ?? String(e);
  const retryable = status === undefined || status === 409 || status === 429 || status >= 500;
  const out = new RouterError(`${what}: ${status ? `HTTP ${status} ` : ""}${detail}`, retryable);
  const retryAfter = Number(err.response?.headers?.["retry-after"]);
  if (status === 429 && Number.isFinite(retryAfter)) (out as RouterError & { retryAfterMs?: number }).retryAfterMs = retryAfter * 1000;
  return out;
}

export class CloudRunRouter implements Router {
  readonly description: string;
  private readonly base: string;
  private readonly tag: string;

  constructor(
    private readonly t: CloudRunTarget,
    private readonly stable: string,
    private readonly candidate: string,
    private readonly client: AuthorizedClient,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    private readonly pollMs = 1000,
  ) {
    this.base = `${(t.endpoint ?? "https://run.googleapis.com").replace(/\/$/, "")}/v2/projects/${t.project}/locations/${t.region}/services/${t.service}`;
    this.tag = t.candidateTag ?? "candidate";
    this.description = `cloud run ${t.project}/${t.region}/${t.service} (stable ${stable}, candidate ${candidate})`;
  }

  private async get(): Promise<Service> {
    return withRetry(`GET ${this.t.service}`, async () => {
      try {
        return (await this.client.request<Service>({ url: this.base, retry: false, timeout: this.t.requestTimeoutMs ?? 15000 })).data;
      } catch (e) {
        throw classify(e, `Cloud Run services.get ${this.t.service}`);
      }
    }, this.retry);
  }

  private traffic(weight: number): TrafficTarget[] {
    const w = split(weight);
    return [
      { type: REVISION, revision: this.stable, percent: w.stable, tag: "stable" },
      { type: REVISION, revision: this.candidate, percent: w.candidate, tag: this.tag },
    ];
  }

  /** PATCH traffic and annotations in one call (so weights and checkpoint change together), guarded by the etag. */
  private async patch(traffic: TrafficTarget[], checkpoint: string | undefined): Promise<void> {
    await withRetry(`PATCH ${this.t.service}`, async () => {
      // Re-read on every attempt: a 409 means someone else changed the service; rebase on its new etag.
      const current = await this.get();
      const annotations = { ...(current.annotations ?? {}), ...(checkpoint !== undefined ? { [CHECKPOINT_ANNOTATION]: checkpoint } : {}) };
      const body = { traffic, annotations, etag: current.etag };
      let op: Operation;
      try {
        op = (await this.client.request<Operation>({ url: `${this.base}?updateMask=traffic,annotations`, method: "PATCH", data: body, retry: false, timeout: this.t.requestTimeoutMs ?? 30000 })).data;
      } catch (e) {
        throw classify(e, `Cloud Run services.patch ${this.t.service}`);
      }
      await this.waitFor(op);
    }, this.retry);
  }

  /** Polls the long-running operation until it is done (bounded). */
  private async waitFor(op: Operation): Promise<void> {
    const endpoint = (this.t.endpoint ?? "https://run.googleapis.com").replace(/\/$/, "");
    let current = op;
    for (let i = 0; i < 300 && !current.done; i++) {
      await new Promise((r) => setTimeout(r, this.pollMs));
      try {
        current = (await this.client.request<Operation>({ url: `${endpoint}/v2/${op.name}`, retry: false, timeout: 15000 })).data;
      } catch (e) {
        const err = classify(e, `Cloud Run operations.get ${op.name}`);
        if (!err.retryable) throw err;
      }
    }
    if (!current.done) throw new RouterError(`Cloud Run operation ${op.name} not done after 300 polls`, true);
    if (current.error) throw new RouterError(`Cloud Run operation ${op.name} failed: ${current.error.message} (code ${current.error.code})`, current.error.code === 10 || current.error.code === 14);
  }

  async prepare(): Promise<void> {
    const s = await this.get();
    const w = (s.traffic ?? []).find((t) => t.revision === this.candidate)?.percent ?? 0;
    // Candidate at its current weight (normally 0) with its tag, so it has its own URL for smoke tests.
    await this.patch(this.traffic(w), undefined);
  }

  async currentWeight(): Promise<number> {
    const s = await this.get();
    return (s.traffic ?? []).filter((t) => t.revision === this.candidate).reduce((a, t) => a + (t.percent ?? 0), 0);
  }

  setWeight(weight: number, checkpoint: string): Promise<void> {
    return this.patch(this.traffic(weight), checkpoint);
  }

  async rollback(checkpoint: string): Promise<{ drained: boolean; note: string }> {
    await this.patch(this.traffic(0), checkpoint);
    return { drained: false, note: "Cloud Run cannot close open connections of a revision: WebSockets on the candidate end at the request timeout or when its instances scale in" };
  }

  async readCheckpoint(): Promise<string | null> {
    return (await this.get()).annotations?.[CHECKPOINT_ANNOTATION] ?? null;
  }

  async saveCheckpoint(checkpoint: string): Promise<void> {
    const s = await this.get();
    await this.patch((s.traffic ?? []) as TrafficTarget[], checkpoint);
  }

  async candidateUrl(): Promise<string | undefined> {
    const s = await this.get();
    return s.trafficStatuses?.find((t) => t.tag === this.tag)?.uri;
  }
}
