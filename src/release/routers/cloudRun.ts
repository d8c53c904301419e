import { CHECKPOINT_ANNOTATION } from "../checkpoint";
import type { LiveSplit } from "../split";
import { httpError, RouterError, split, targetIdOf, type CheckpointWrite, type DrainPlan, type RollbackResult, type Router } from "./router";
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

/**
 * The part of google-auth-library's AuthClient we use (gaxios request).
 * Every request says `redirect: "manual"`: a 3xx is an error, never followed
 * with the token or the body to wherever it points.
 */
export interface AuthorizedClient {
  request<T>(opts: {
    url: string;
    method?: string;
    data?: unknown;
    headers?: Record<string, string>;
    timeout?: number;
    retry?: boolean;
    redirect?: "manual";
  }): Promise<{ data: T; status: number; headers?: unknown }>;
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
  template?: { timeout?: string };
}

interface Operation {
  name: string;
  done?: boolean;
  error?: { code: number; message: string };
}

const REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION";
const LATEST = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST";
export const STABLE_TAG = "stable";

/** Maps a gaxios failure through the one HTTP classifier. */
function classify(e: unknown, what: string): RouterError {
  const err = e as { response?: { status?: number; data?: { error?: { message?: string } }; headers?: Record<string, string> }; message?: string };
  return httpError(what, err.response?.status, err.response?.data?.error?.message ?? err.message ?? String(e), err.response?.headers?.["retry-after"]);
}

/** An entry's arm name: its revision, or LATEST for the latest-ready entry. */
const armOf = (t: TrafficTarget) => (t.type === LATEST ? "LATEST" : (t.revision ?? "LATEST"));

/** The service's traffic as a split (every entry, LATEST included). */
export function splitOf(s: Service): LiveSplit {
  return { arms: (s.traffic ?? []).map((t) => ({ name: armOf(t), percent: t.percent ?? 0 })) };
}

export class CloudRunRouter implements Router {
  readonly description: string;
  readonly target: string;
  private readonly base: string;
  private readonly tag: string;

  constructor(
    private readonly t: CloudRunTarget,
    private readonly stable: string,
    private readonly candidate: string,
    private readonly client: AuthorizedClient,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    private readonly pollMs = 1000,
    /** An ID token for an audience (google-auth-library's ID token client); without it, requests to the service go unauthenticated. */
    private readonly idToken?: (audience: string) => Promise<string>,
  ) {
    this.base = `${(t.endpoint ?? "https://run.googleapis.com").replace(/\/$/, "")}/v2/projects/${t.project}/locations/${t.region}/services/${t.service}`;
    this.tag = t.candidateTag ?? "candidate";
    this.description = `cloud run ${t.project}/${t.region}/${t.service} (stable ${stable}, candidate ${candidate})`;
    this.target = targetIdOf({ kind: "cloud-run", ...t });
  }

  private async get(): Promise<Service> {
    return withRetry(
      `GET ${this.t.service}`,
      async () => {
        try {
          return (await this.client.request<Service>({ url: this.base, retry: false, redirect: "manual", timeout: this.t.requestTimeoutMs ?? 15000 })).data;
        } catch (e) {
          throw classify(e, `Cloud Run services.get ${this.t.service}`);
        }
      },
      this.retry,
    );
  }

  /**
   * The traffic list with the candidate at `weight` (undefined: as it is)
   * and stable at the rest. Every other entry is kept with its share and
   * tags (the drift lock has checked their share is 0); only this engine's
   * own tags move to the release's revisions, and an entry left with
   * neither traffic nor a tag is dropped (Cloud Run would reject it).
   */
  private traffic(current: TrafficTarget[], weight: number | undefined): TrafficTarget[] {
    const ours = new Set([STABLE_TAG, this.tag]);
    const mine = (rev: string) => current.find((t) => t.type !== LATEST && t.revision === rev);
    const candidatePercent = weight === undefined ? (mine(this.candidate)?.percent ?? 0) : split(weight).candidate;
    const stablePercent = weight === undefined ? (mine(this.stable)?.percent ?? 0) : split(weight).stable;
    const others = current
      .filter((t) => t.type === LATEST || (t.revision !== this.stable && t.revision !== this.candidate))
      .map((t) => (t.tag && ours.has(t.tag) ? { ...t, tag: undefined } : t))
      .filter((t) => (t.percent ?? 0) > 0 || t.tag)
      .map(({ tag, ...rest }) => (tag ? { ...rest, tag } : rest));
    return [
      ...others,
      { type: REVISION, revision: this.stable, percent: stablePercent, tag: STABLE_TAG },
      { type: REVISION, revision: this.candidate, percent: candidatePercent, tag: this.tag },
    ];
  }

  /**
   * PATCH traffic and annotations in one call (weights and checkpoint change
   * together), guarded by the etag: the guard sees the service as it is
   * right before the write, and a 409 (someone changed it since) starts
   * over from a fresh read and a fresh guard.
   */
  private async patch(weight: number | undefined, write: CheckpointWrite): Promise<void> {
    await withRetry(
      `PATCH ${this.t.service}`,
      async () => {
        const current = await this.get();
        write.guard(current.annotations?.[CHECKPOINT_ANNOTATION] ?? null, splitOf(current));
        const body = {
          traffic: this.traffic(current.traffic ?? [], weight),
          annotations: { ...(current.annotations ?? {}), [CHECKPOINT_ANNOTATION]: write.text },
          etag: current.etag,
        };
        let op: Operation;
        try {
          op = (
            await this.client.request<Operation>({
              url: `${this.base}?updateMask=traffic,annotations`,
              method: "PATCH",
              data: body,
              retry: false,
              redirect: "manual",
              timeout: this.t.requestTimeoutMs ?? 30000,
            })
          ).data;
        } catch (e) {
          throw classify(e, `Cloud Run services.patch ${this.t.service}`);
        }
        await this.waitFor(op);
      },
      this.retry,
    );
  }

  /** Polls the long-running operation until it is done (bounded). */
  private async waitFor(op: Operation): Promise<void> {
    const endpoint = (this.t.endpoint ?? "https://run.googleapis.com").replace(/\/$/, "");
    let current = op;
    for (let i = 0; i < 300 && !current.done; i++) {
      await new Promise((r) => setTimeout(r, this.pollMs));
      try {
        current = (await this.client.request<Operation>({ url: `${endpoint}/v2/${op.name}`, retry: false, redirect: "manual", timeout: 15000 })).data;
      } catch (e) {
        const err = classify(e, `Cloud Run operations.get ${op.name}`);
        if (!err.retryable) throw err;
      }
    }
    if (!current.done) throw new RouterError(`Cloud Run operation ${op.name} not done after 300 polls`, true);
    if (current.error)
      throw new RouterError(
        `Cloud Run operation ${op.name} failed: ${current.error.message} (code ${current.error.code})`,
        current.error.code === 10 || current.error.code === 14,
      );
  }

  /** Tags stable and candidate (their own URLs for smoke tests, health and the probe) without changing any share. */
  prepare(write: CheckpointWrite): Promise<void> {
    return this.patch(undefined, write);
  }

  async readSplit(): Promise<LiveSplit> {
    return splitOf(await this.get());
  }

  setWeight(weight: number, write: CheckpointWrite): Promise<void> {
    return this.patch(weight, write);
  }

  async rollback(write: CheckpointWrite, _plan: DrainPlan): Promise<RollbackResult> {
    await this.patch(0, write);
    const timeout = (await this.get().catch(() => undefined))?.template?.timeout ?? "the service's request timeout";
    // Not a drain: Cloud Run has no call that closes (or waits for) a revision's connections.
    return {
      drained: false,
      note: `new requests go to stable; Cloud Run cannot close a revision's open connections, so WebSockets on the candidate end at the request timeout (${timeout}) at the latest, or when its instances scale in`,
    };
  }

  async readCheckpoint(): Promise<string | null> {
    return (await this.get()).annotations?.[CHECKPOINT_ANNOTATION] ?? null;
  }

  saveCheckpoint(write: CheckpointWrite): Promise<void> {
    return this.patch(undefined, write);
  }

  private async urlOf(tag: string): Promise<string | undefined> {
    return (await this.get()).trafficStatuses?.find((t) => t.tag === tag)?.uri;
  }

  candidateUrl(): Promise<string | undefined> {
    return this.urlOf(this.tag);
  }

  stableUrl(): Promise<string | undefined> {
    return this.urlOf(STABLE_TAG);
  }

  /**
   * A private service (no allUsers invoker: dev and staging by default)
   * answers 403 without an ID token, so smoke tests, health checks and the
   * probe carry one, its audience the service's own run.app URL (which the
   * tag URLs accept too).
   */
  async callerHeaders(): Promise<Record<string, string>> {
    if (!this.idToken) return {};
    const audience = (await this.get()).uri;
    if (!audience) return {};
    return { authorization: `Bearer ${await this.idToken(audience)}` };
  }
}
