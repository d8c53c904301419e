import { releaseSpec } from "../spec";
import { runSmokeTests } from "../gates/smoke";
import { callWebhooks } from "../gates/webhooks";
import { PrometheusSource, TEMPLATES, type PromTemplates } from "../metrics/prometheus";
import { CloudRunRouter } from "../routers/cloudRun";
import { HaproxyRouter } from "../routers/haproxy";
import { HttpRouteRouter } from "../routers/httpRoute";
import type { Router } from "../routers/router";
import { VercelFollower } from "../routers/vercel";
import type { RolloutDeps, ProgressEvent } from "../driver";
import type { ReleaseSpec } from "../sequencer";
import type { TrafficSplitInputs } from "./inputs";

/**
 * Builds the adapters one rollout needs from its validated inputs. Clients
 * are created here, per call, never captured in the serialized provider.
 */

async function googleClient() {
  const { GoogleAuth } = await import("google-auth-library");
  return new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] }).getClient();
}

export async function routerFor(i: TrafficSplitInputs): Promise<Router> {
  const t = i.target;
  switch (t.kind) {
    case "haproxy":
      return new HaproxyRouter({ runtimeApi: t.runtimeApi, backend: t.backend, stableServer: i.stable, candidateServer: i.candidate, stateFile: t.stateFile, ...(t.candidateUrl ? { candidateUrl: t.candidateUrl } : {}) });
    case "cloud-run":
      return new CloudRunRouter({ project: t.project, region: t.region, service: t.service, candidateTag: t.candidateTag, ...(t.endpoint ? { endpoint: t.endpoint } : {}) }, i.stable, i.candidate, await googleClient());
    case "http-route":
      return new HttpRouteRouter({
        namespace: t.namespace,
        name: t.name,
        ruleIndex: t.ruleIndex,
        stableBackend: t.stableBackend,
        candidateBackend: t.candidateBackend,
        ...(t.kubeconfig ? { kubeconfig: t.kubeconfig } : {}),
        ...(t.candidateUrl ? { candidateUrl: t.candidateUrl } : {}),
      });
  }
}

export function templatesFor(i: TrafficSplitInputs): PromTemplates {
  const m = i.metrics;
  if (m.preset === "custom") {
    const t = m.templates!;
    return { requests: t.requests!, errors: t.errors!, latencyUnit: t.latencyUnit ?? "s", ...(t.latencyBuckets ? { latencyBuckets: t.latencyBuckets } : {}), ...(t.wsAbnormalCloses ? { wsAbnormalCloses: t.wsAbnormalCloses } : {}) };
  }
  const scope = m.scope ?? (i.target.kind === "cloud-run" ? i.target.service : i.target.kind === "haproxy" ? i.target.backend : "");
  const base = m.preset === "cloud-run" ? TEMPLATES.cloudRun(scope) : TEMPLATES.haproxy(scope);
  // A preset's selectors can be overridden one by one (e.g. latency buckets from the app's own histogram).
  return { ...base, ...Object.fromEntries(Object.entries(m.templates ?? {}).filter(([, v]) => v !== undefined)) };
}

export function specFor(i: TrafficSplitInputs): ReleaseSpec {
  if (i.immediate) {
    return { ...releaseSpec({ strategy: "direct", target: "cloud-run", smokeTests: { paths: [], optionalPaths: [], expectStatus: 200, maxLatencyMs: 2000, retries: 0, failFast: true }, webhooks: [] }), gatesBeforeTraffic: [], gatesBeforePromotion: [] };
  }
  return releaseSpec(i.release);
}

export async function depsFor(i: TrafficSplitInputs, router: Router, log: (e: ProgressEvent) => void): Promise<RolloutDeps> {
  const headers: Record<string, string> = {};
  if (i.metrics.auth === "google") {
    const token = await (await googleClient()).getAccessToken();
    if (token.token) headers["authorization"] = `Bearer ${token.token}`;
  }
  const metrics = new PrometheusSource({ url: i.metrics.url, templates: templatesFor(i), headers });
  const hooks = i.release.webhooks;
  const followers = i.followers.map((f) => new VercelFollower({ projectId: f.projectId, token: f.token, canaryDeploymentId: f.canaryDeploymentId, stableDeploymentId: f.stableDeploymentId, ...(f.teamId ? { teamId: f.teamId } : {}), ...(f.endpoint ? { endpoint: f.endpoint } : {}) }));
  const payload = (weight: number) => ({ stable: i.stable, candidate: i.candidate, weight, metadata: { target: router.description } });
  return {
    router,
    followers,
    metrics,
    log,
    runGate: async (gate, ctx) => {
      switch (gate) {
        case "smoke": {
          const url = await router.candidateUrl();
          if (!url) return { passed: false, detail: `${router.description} gives the candidate no URL of its own to smoke-test` };
          const r = await runSmokeTests(url, i.release.smokeTests);
          return { passed: r.passed, detail: r.summary };
        }
        case "pre-rollout":
        case "confirm-rollout":
        case "confirm-promotion":
          return callWebhooks(hooks, gate, payload(ctx.weight));
        case "manual-approval": {
          // Manual approval is a confirm-promotion endpoint a person flips (Flagger's pattern).
          if (!hooks.some((h) => h.type === "confirm-promotion")) return { passed: false, detail: "manualApproval is on but no confirm-promotion webhook is configured to ask" };
          return callWebhooks(hooks, "confirm-promotion", payload(ctx.weight));
        }
      }
    },
    health: async () => {
      const url = await router.candidateUrl();
      if (!url) return { ok: true, detail: "no candidate URL; health guardrail relies on metrics" };
      try {
        const res = await fetch(new URL(i.healthPath, url), { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        return { ok: res.ok, detail: `GET ${i.healthPath}: ${res.status}` };
      } catch (e) {
        return { ok: false, detail: `GET ${i.healthPath}: ${(e as Error).message}` };
      }
    },
    notify: async (event) => {
      if (event.event === "promoted") await callWebhooks(hooks, "post-rollout", payload(100));
      if (event.event === "rolled-back") await callWebhooks(hooks, "rollback", payload(0));
    },
  };
}
