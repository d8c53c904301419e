import { CHECKPOINT_ANNOTATION } from "../checkpoint";
import { fromWeights, type LiveSplit } from "../split";
import { httpError, RouterError, split, targetIdOf, type CheckpointWrite, type DrainPlan, type RollbackResult, type Router } from "./router";
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from "./retry";

/**
 * A Gateway API HTTPRoute's weighted backendRefs, through
 * @kubernetes/client-node. Every write is a JSON merge patch that carries
 * the resourceVersion it was computed from, so a concurrent change makes
 * the API server answer 409 and we re-read (and re-check) instead of
 * overwriting it. Every request has a timeout.
 */

export interface HttpRouteTarget {
  namespace: string;
  name: string;
  /** Which rule's backendRefs hold the split. */
  ruleIndex: number;
  stableBackend: string;
  candidateBackend: string;
  /** A kubeconfig (YAML or JSON); without it, the default loading rules ($KUBECONFIG, in-cluster). */
  kubeconfig?: string;
  /** A context of that kubeconfig (or of the default one); default: its current-context. */
  context?: string;
  /** A URL that reaches only the candidate Service (e.g. a preview listener), for smoke tests. */
  candidateUrl?: string;
  /** A URL that reaches only the stable Service, for the WebSocket probe's comparison arm. */
  stableUrl?: string;
  /** Per-request timeout of every API call. */
  requestTimeoutMs?: number;
}

interface BackendRef {
  name: string;
  port?: number;
  weight?: number;
  [k: string]: unknown;
}
interface HttpRoute {
  metadata: { name: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec: { rules?: { backendRefs?: BackendRef[]; [k: string]: unknown }[]; [k: string]: unknown };
}

const GROUP = { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes" };

type K8s = typeof import("@kubernetes/client-node");

function classify(e: unknown, what: string): RouterError {
  const err = e as { code?: number; body?: unknown; message?: string; headers?: Record<string, string> };
  const status = typeof err.code === "number" && err.code >= 100 ? err.code : undefined;
  let detail = err.message ?? String(e);
  if (typeof err.body === "string") {
    try {
      detail = (JSON.parse(err.body) as { message?: string }).message ?? detail;
    } catch {
      /* keep the message */
    }
  }
  return httpError(what, status, detail, err.headers?.["retry-after"]);
}

export class HttpRouteRouter implements Router {
  readonly description: string;
  readonly target: string;
  private api?: { k8s: K8s; client: InstanceType<K8s["CustomObjectsApi"]> };

  constructor(
    private readonly t: HttpRouteTarget,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {
    this.description = `httproute ${t.namespace}/${t.name} (stable ${t.stableBackend}, candidate ${t.candidateBackend})`;
    this.target = targetIdOf({ kind: "http-route", ...t });
  }

  private async client() {
    if (!this.api) {
      // Loaded lazily: the package is ESM-only and heavy; most targets never need it.
      const k8s = (await import("@kubernetes/client-node")) as K8s;
      const kc = new k8s.KubeConfig();
      if (this.t.kubeconfig) kc.loadFromString(this.t.kubeconfig);
      else kc.loadFromDefault();
      if (this.t.context) kc.setCurrentContext(this.t.context);
      this.api = { k8s, client: kc.makeApiClient(k8s.CustomObjectsApi) };
    }
    return this.api;
  }

  /** Per-call options: an abort signal that ends the request after the timeout. */
  private options(k8s: K8s) {
    const ms = this.t.requestTimeoutMs ?? 15_000;
    const timeout = {
      pre: (ctx: { setSignal(s: AbortSignal): void }) => {
        ctx.setSignal(AbortSignal.timeout(ms));
        return new k8s.Observable(Promise.resolve(ctx));
      },
      post: <R>(r: R) => new k8s.Observable(Promise.resolve(r)),
    };
    return { middleware: [timeout], middlewareMergeStrategy: "append" as const } as unknown as Parameters<
      InstanceType<K8s["CustomObjectsApi"]>["getNamespacedCustomObject"]
    >[1];
  }

  private async get(): Promise<HttpRoute> {
    const { k8s, client } = await this.client();
    return withRetry(
      `GET httproute ${this.t.name}`,
      async () => {
        try {
          return (await client.getNamespacedCustomObject({ ...GROUP, namespace: this.t.namespace, name: this.t.name }, this.options(k8s))) as HttpRoute;
        } catch (e) {
          throw classify(e, `get httproute ${this.t.namespace}/${this.t.name}`);
        }
      },
      this.retry,
    );
  }

  /**
   * Which release arm a backendRef is: the stable or candidate Service of the
   * route's own namespace (core group, kind Service), or, for any other ref
   * (another namespace, kind or group, even with the same name), a name of
   * its own, so the drift lock counts it as a third arm and no write touches it.
   */
  private armOf(r: BackendRef): string {
    const group = typeof r["group"] === "string" ? r["group"] : "";
    const kind = typeof r["kind"] === "string" ? r["kind"] : "Service";
    const namespace = typeof r["namespace"] === "string" ? r["namespace"] : this.t.namespace;
    const local = group === "" && kind === "Service" && namespace === this.t.namespace;
    return local ? r.name : `${group || "core"}/${kind}/${namespace}/${r.name}${r.port !== undefined ? `:${r.port}` : ""}`;
  }

  private refs(route: HttpRoute): BackendRef[] {
    const rule = route.spec.rules?.[this.t.ruleIndex];
    const where = `httproute ${this.t.namespace}/${this.t.name} rule ${this.t.ruleIndex}`;
    if (!rule?.backendRefs) throw new RouterError(`httproute ${this.t.namespace}/${this.t.name} has no rule ${this.t.ruleIndex} with backendRefs`, false);
    for (const b of [this.t.stableBackend, this.t.candidateBackend]) {
      const mine = rule.backendRefs.filter((r) => this.armOf(r) === b);
      if (mine.length === 0) throw new RouterError(`${where} has no backendRef to Service ${b} in namespace ${this.t.namespace}`, false);
      // Two refs to one arm (other ports, say): which of them the release moves would be a guess.
      if (mine.length > 1)
        throw new RouterError(`${where} has ${mine.length} backendRefs to Service ${b}: the release moves exactly one; remove the others`, false);
    }
    return rule.backendRefs;
  }

  /** The rule's backendRefs as a split: Gateway API weights are relative, and a missing weight is 1. */
  private splitOf(route: HttpRoute): LiveSplit {
    return fromWeights(this.refs(route).map((r) => ({ name: this.armOf(r), weight: r.weight ?? 1 })));
  }

  private async write(weight: number | null, write: CheckpointWrite): Promise<void> {
    const { k8s, client } = await this.client();
    await withRetry(
      `PATCH httproute ${this.t.name}`,
      async () => {
        const route = await this.get();
        write.guard(route.metadata.annotations?.[CHECKPOINT_ANNOTATION] ?? null, this.splitOf(route));
        const rules = structuredClone(route.spec.rules ?? []);
        if (weight !== null) {
          const w = split(weight);
          // Other backendRefs keep their (zero) weight: the guard has checked that nothing else carries traffic.
          rules[this.t.ruleIndex]!.backendRefs = rules[this.t.ruleIndex]!.backendRefs!.map((r) => {
            const arm = this.armOf(r);
            return arm === this.t.candidateBackend ? { ...r, weight: w.candidate } : arm === this.t.stableBackend ? { ...r, weight: w.stable } : r;
          });
        }
        // Merge patch replaces arrays whole, so send all rules; resourceVersion makes it a compare-and-swap.
        const patch = {
          metadata: { resourceVersion: route.metadata.resourceVersion, annotations: { [CHECKPOINT_ANNOTATION]: write.text } },
          ...(weight !== null ? { spec: { rules } } : {}),
        };
        try {
          await client.patchNamespacedCustomObject(
            { ...GROUP, namespace: this.t.namespace, name: this.t.name, body: patch },
            k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch, this.options(k8s)),
          );
        } catch (e) {
          throw classify(e, `patch httproute ${this.t.namespace}/${this.t.name}`);
        }
      },
      this.retry,
    );
  }

  async prepare(write: CheckpointWrite): Promise<void> {
    await this.write(null, write);
  }

  async readSplit(): Promise<LiveSplit> {
    return this.splitOf(await this.get());
  }

  setWeight(weight: number, write: CheckpointWrite): Promise<void> {
    return this.write(weight, write);
  }

  async rollback(write: CheckpointWrite, _plan: DrainPlan): Promise<RollbackResult> {
    await this.write(0, write);
    return {
      drained: false,
      note: "new requests go to stable; the Gateway keeps established connections to the candidate Service until they close (scale the candidate slot down to end them)",
    };
  }

  async readCheckpoint(): Promise<string | null> {
    return (await this.get()).metadata.annotations?.[CHECKPOINT_ANNOTATION] ?? null;
  }

  saveCheckpoint(write: CheckpointWrite): Promise<void> {
    return this.write(null, write);
  }

  async candidateUrl(): Promise<string | undefined> {
    return this.t.candidateUrl;
  }

  async stableUrl(): Promise<string | undefined> {
    return this.t.stableUrl;
  }
}
