import { RouterError, split, type Router } from "./router";
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from "./retry";

/**
 * A Gateway API HTTPRoute's weighted backendRefs, through
 * @kubernetes/client-node. Every write is a JSON merge patch that carries
 * the resourceVersion it was computed from, so a concurrent change makes
 * the API server answer 409 and we re-read instead of overwriting it.
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
  /** A URL that reaches only the candidate Service (e.g. a preview listener), for smoke tests. */
  candidateUrl?: string;
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

export const CHECKPOINT_ANNOTATION = "delivery.progressive.dev/rollout";
const GROUP = { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes" };

type K8s = typeof import("@kubernetes/client-node");

function classify(e: unknown, what: string): RouterError {
  const err = e as { code?: number; body?: unknown; message?: string };
  const status = typeof err.code === "number" && err.code >= 100 ? err.code : undefined;
  let detail = err.message ?? String(e);
  if (typeof err.body === "string") {
    try {
      detail = (JSON.parse(err.body) as { message?: string }).message ?? detail;
    } catch {
      /* keep the message */
    }
  }
  return new RouterError(`${what}: ${status ? `HTTP ${status} ` : ""}${detail}`, status === undefined || status === 409 || status === 429 || status >= 500);
}

export class HttpRouteRouter implements Router {
  readonly description: string;
  private api?: { k8s: K8s; client: InstanceType<K8s["CustomObjectsApi"]> };

  constructor(
    private readonly t: HttpRouteTarget,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {
    this.description = `httproute ${t.namespace}/${t.name} (stable ${t.stableBackend}, candidate ${t.candidateBackend})`;
  }

  private async client() {
    if (!this.api) {
      // Loaded lazily: the package is ESM-only and heavy; most targets never need it.
      const k8s = (await import("@kubernetes/client-node")) as K8s;
      const kc = new k8s.KubeConfig();
      if (this.t.kubeconfig) kc.loadFromString(this.t.kubeconfig);
      else kc.loadFromDefault();
      this.api = { k8s, client: kc.makeApiClient(k8s.CustomObjectsApi) };
    }
    return this.api;
  }

  private async get(): Promise<HttpRoute> {
    const { client } = await this.client();
    return withRetry(`GET httproute ${this.t.name}`, async () => {
      try {
        return (await client.getNamespacedCustomObject({ ...GROUP, namespace: this.t.namespace, name: this.t.name })) as HttpRoute;
      } catch (e) {
        throw classify(e, `get httproute ${this.t.namespace}/${this.t.name}`);
      }
    }, this.retry);
  }

  private refs(route: HttpRoute): BackendRef[] {
    const rule = route.spec.rules?.[this.t.ruleIndex];
    if (!rule?.backendRefs) throw new RouterError(`httproute ${this.t.namespace}/${this.t.name} has no rule ${this.t.ruleIndex} with backendRefs`, false);
    for (const b of [this.t.stableBackend, this.t.candidateBackend]) {
      if (!rule.backendRefs.some((r) => r.name === b)) throw new RouterError(`httproute ${this.t.namespace}/${this.t.name} rule ${this.t.ruleIndex} has no backendRef named ${b}`, false);
    }
    return rule.backendRefs;
  }

  private async write(weight: number | null, checkpoint: string | undefined): Promise<void> {
    const { k8s, client } = await this.client();
    await withRetry(`PATCH httproute ${this.t.name}`, async () => {
      const route = await this.get();
      const rules = structuredClone(route.spec.rules ?? []);
      if (weight !== null) {
        const w = split(weight);
        this.refs(route);
        rules[this.t.ruleIndex]!.backendRefs = rules[this.t.ruleIndex]!.backendRefs!.map((r) =>
          r.name === this.t.candidateBackend ? { ...r, weight: w.candidate } : r.name === this.t.stableBackend ? { ...r, weight: w.stable } : r,
        );
      }
      // Merge patch replaces arrays whole, so send all rules; resourceVersion makes it a compare-and-swap.
      const patch = {
        metadata: { resourceVersion: route.metadata.resourceVersion, ...(checkpoint !== undefined ? { annotations: { [CHECKPOINT_ANNOTATION]: checkpoint } } : {}) },
        ...(weight !== null ? { spec: { rules } } : {}),
      };
      try {
        await client.patchNamespacedCustomObject({ ...GROUP, namespace: this.t.namespace, name: this.t.name, body: patch }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
      } catch (e) {
        throw classify(e, `patch httproute ${this.t.namespace}/${this.t.name}`);
      }
    }, this.retry);
  }

  async prepare(): Promise<void> {
    this.refs(await this.get());
  }

  async currentWeight(): Promise<number> {
    const refs = this.refs(await this.get());
    const c = refs.find((r) => r.name === this.t.candidateBackend)?.weight ?? 1;
    const s = refs.find((r) => r.name === this.t.stableBackend)?.weight ?? 1;
    return c + s === 0 ? 0 : Math.round((100 * c) / (c + s));
  }

  setWeight(weight: number, checkpoint: string): Promise<void> {
    return this.write(weight, checkpoint);
  }

  async rollback(checkpoint: string): Promise<{ drained: boolean; note: string }> {
    await this.write(0, checkpoint);
    return { drained: false, note: "the Gateway keeps established connections to the candidate Service until they close; scale the candidate slot down to end them" };
  }

  async readCheckpoint(): Promise<string | null> {
    return (await this.get()).metadata.annotations?.[CHECKPOINT_ANNOTATION] ?? null;
  }

  saveCheckpoint(checkpoint: string): Promise<void> {
    return this.write(null, checkpoint);
  }

  async candidateUrl(): Promise<string | undefined> {
    return this.t.candidateUrl;
  }
}
