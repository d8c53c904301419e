import type { Approval } from "../../config/schema";
import { immediateSpec, releaseSpec } from "../spec";
import { runSmokeTests } from "../gates/smoke";
import { callWebhooks } from "../gates/webhooks";
import { readApproval } from "../gates/approval";
import { pathOn } from "../gates/http";
import { PrometheusSource, TEMPLATES, type PromTemplates } from "../metrics/prometheus";
import { WebSocketProbe, websocketUrl } from "../metrics/websocketProbe";
import { CloudRunRouter } from "../routers/cloudRun";
import { HaproxyRouter } from "../routers/haproxy";
import { HttpRouteRouter } from "../routers/httpRoute";
import type { Follower, Router } from "../routers/router";
import { VercelFollower } from "../routers/vercel";
import { RESTORE_PATIENCE_MS, type Probe, type RolloutDeps, type ProgressEvent, type RolloutOptions } from "../driver";
import { DEFAULT_RETRY, type RetryPolicy } from "../routers/retry";
import { releaseKeyOf } from "../checkpoint";
import type { ReleaseSpec } from "../spec";
import type { TrafficSplitInputs } from "./inputs";

/**
 * Builds the adapters one rollout needs from its validated inputs. Clients
 * are created here, per call, never captured in the serialized provider.
 */

async function googleClient() {
  const { GoogleAuth } = await import("google-auth-library");
  return new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] }).getClient();
}

/** ID tokens from Application Default Credentials (a service account, or one impersonated through Workload Identity Federation). */
async function googleIdToken(audience: string): Promise<string> {
  const { GoogleAuth } = await import("google-auth-library");
  const client = await new GoogleAuth().getIdTokenClient(audience);
  return client.idTokenProvider.fetchIdToken(audience);
}

/**
 * Retries of one rollout's calls: never a sleep past its end (the deadline,
 * plus the time a rollback at the deadline may take to restore stable).
 */
const retryFor = (i: TrafficSplitInputs): RetryPolicy => ({ ...DEFAULT_RETRY, deadline: Date.now() + i.deadlineSeconds * 1000 + RESTORE_PATIENCE_MS });

/** The router for a target: one factory keyed by the target's kind. */
export async function routerFor(i: TrafficSplitInputs): Promise<Router> {
  const t = i.target;
  const retry = retryFor(i);
  switch (t.kind) {
    case "haproxy":
      return new HaproxyRouter(
        {
          runtimeApi: t.runtimeApi,
          backend: t.backend,
          stableServer: i.stable,
          candidateServer: i.candidate,
          stateFile: t.stateFile,
          ...(t.candidateUrl ? { candidateUrl: t.candidateUrl } : {}),
          ...(t.stableUrl ? { stableUrl: t.stableUrl } : {}),
        },
        retry,
      );
    case "cloud-run":
      return new CloudRunRouter(
        { project: t.project, region: t.region, service: t.service, candidateTag: t.candidateTag, ...(t.endpoint ? { endpoint: t.endpoint } : {}) },
        i.stable,
        i.candidate,
        await googleClient(),
        retry,
        undefined,
        googleIdToken,
      );
    case "http-route":
      return new HttpRouteRouter(
        {
          namespace: t.namespace,
          name: t.name,
          ruleIndex: t.ruleIndex,
          stableBackend: t.stableBackend,
          candidateBackend: t.candidateBackend,
          ...(t.kubeconfig ? { kubeconfig: t.kubeconfig } : {}),
          ...(t.context ? { context: t.context } : {}),
          ...(t.candidateUrl ? { candidateUrl: t.candidateUrl } : {}),
          ...(t.stableUrl ? { stableUrl: t.stableUrl } : {}),
        },
        retry,
      );
  }
}

/** The followers of a release: one factory keyed by the follower's kind. */
export function followersFor(i: TrafficSplitInputs): Follower[] {
  return i.followers.map((f) => {
    switch (f.kind) {
      case "vercel":
        return new VercelFollower(
          {
            projectId: f.projectId,
            token: f.token,
            canaryDeploymentId: f.canaryDeploymentId,
            stableDeploymentId: f.stableDeploymentId,
            ...(f.teamId ? { teamId: f.teamId } : {}),
            ...(f.endpoint ? { endpoint: f.endpoint } : {}),
          },
          retryFor(i),
        );
    }
  });
}

export function templatesFor(i: TrafficSplitInputs): PromTemplates {
  const m = i.metrics;
  if (m.preset === "custom") {
    const t = m.templates!;
    return {
      requests: t.requests!,
      errors: t.errors!,
      latencyUnit: t.latencyUnit ?? "s",
      ...(t.latencyBuckets ? { latencyBuckets: t.latencyBuckets } : {}),
      ...(t.wsAbnormalCloses ? { wsAbnormalCloses: t.wsAbnormalCloses } : {}),
    };
  }
  const scope = m.scope ?? (i.target.kind === "cloud-run" ? i.target.service : i.target.kind === "haproxy" ? i.target.backend : "");
  const base = m.preset === "cloud-run" ? TEMPLATES.cloudRun(scope) : TEMPLATES.haproxy(scope);
  // A preset's selectors can be overridden one by one (e.g. latency buckets from the app's own histogram).
  return { ...base, ...Object.fromEntries(Object.entries(m.templates ?? {}).filter(([, v]) => v !== undefined)) };
}

export function specFor(i: TrafficSplitInputs): ReleaseSpec {
  return i.immediate ? immediateSpec() : releaseSpec(i.release);
}

const approvalOf = (i: TrafficSplitInputs): Approval | undefined => (i.release.strategy === "direct" ? undefined : i.release.approval);

/** The driver's options for these inputs. */
export function optionsFor(i: TrafficSplitInputs): RolloutOptions {
  const r = i.release;
  return {
    spec: specFor(i),
    stable: i.stable,
    candidate: i.candidate,
    releaseKey: releaseKeyOf(i.stable, i.candidate, i.retryToken),
    intervalMs: i.intervalSeconds * 1000,
    healthIntervalMs: Math.min(i.healthIntervalSeconds, i.intervalSeconds) * 1000,
    deadlineMs: i.deadlineSeconds * 1000,
    approvalWaitMs: (approvalOf(i)?.timeoutSeconds ?? 0) * 1000,
    drainMs: (r.strategy === "direct" ? 0 : r.drainSeconds) * 1000,
  };
}

export async function depsFor(i: TrafficSplitInputs, router: Router, log: (e: ProgressEvent) => void): Promise<RolloutDeps> {
  const headers: Record<string, string> = {};
  if (i.metrics.auth === "google") {
    const token = await (await googleClient()).getAccessToken();
    if (token.token) headers["authorization"] = `Bearer ${token.token}`;
  }
  const maxSampleAgeSeconds = i.metrics.maxSampleAgeSeconds ?? (i.metrics.preset === "cloud-run" ? 300 : 30);
  const metrics = new PrometheusSource({ url: i.metrics.url, templates: templatesFor(i), headers, maxSampleAgeSeconds });
  const hooks = i.release.webhooks;
  const approval = approvalOf(i);
  const payload = (weight: number) => ({ stable: i.stable, candidate: i.candidate, weight, metadata: { target: router.description } });
  const callerHeaders = async () => (router.callerHeaders ? await router.callerHeaders() : {});
  /** undefined: the candidate has no URL of its own, so there is nothing to check. */
  const health = async (): Promise<{ ok: boolean; detail: string } | undefined> => {
    const url = await router.candidateUrl();
    if (!url) return undefined;
    try {
      const res = await fetch(pathOn(url, i.healthPath), { headers: await callerHeaders(), signal: AbortSignal.timeout(5000), redirect: "manual" });
      await res.arrayBuffer();
      return { ok: res.status >= 200 && res.status < 300, detail: `GET ${i.healthPath}: ${res.status}` };
    } catch (e) {
      return { ok: false, detail: `GET ${i.healthPath}: ${(e as Error).message}` };
    }
  };
  return {
    router,
    followers: followersFor(i),
    metrics,
    log,
    runGate: async (gate, ctx) => {
      switch (gate) {
        case "smoke": {
          const url = await router.candidateUrl();
          if (!url) return { passed: false, detail: `${router.description} gives the candidate no URL of its own to smoke-test` };
          const r = await runSmokeTests(url, i.release.smokeTests, { headers: await callerHeaders() });
          return { passed: r.passed, detail: r.summary };
        }
        case "candidate-health": {
          // Fails closed: no promotion without a health check that answered.
          const h = await health();
          return h
            ? { passed: h.ok, detail: h.detail }
            : {
                passed: false,
                detail: `${router.description} gives the candidate no URL of its own to check ${i.healthPath} on at promotion (set the target's candidateUrl)`,
              };
        }
        case "pre-rollout":
        case "confirm-rollout":
        case "confirm-promotion":
          return callWebhooks(hooks, gate, payload(ctx.weight), i.webhookSecret);
        case "manual-approval":
          // The sequencer holds for a manual approval (guardrails watching) instead of asking a gate.
          return { passed: false, detail: "manual approval is a hold, answered through release.approval" };
      }
    },
    ...(approval ? { approval: (attempt: string) => readApproval(approval, attempt) } : {}),
    health,
    probe: async (): Promise<Probe | undefined> => {
      const p = i.release.strategy === "direct" || i.immediate ? undefined : i.release.analysis.websocketProbe;
      if (!p) return undefined;
      const [c, s] = [await router.candidateUrl(), await router.stableUrl()];
      if (!c) {
        log({ kind: "info", message: `websocket probe: ${router.description} gives the candidate no URL of its own; no probe` });
        return undefined;
      }
      const headers = await callerHeaders();
      const make = (base: string) =>
        new WebSocketProbe({ url: websocketUrl(base, p.path), messagesPerSecond: p.messagesPerSecond, timeoutMs: p.timeoutMs, headers });
      const candidate = make(c);
      const stable = s ? make(s) : undefined;
      candidate.start();
      stable?.start();
      log({
        kind: "info",
        message: `websocket probe: ${p.messagesPerSecond} echo messages/s on ${p.path} of the candidate${stable ? " and of stable" : " (stable has no URL of its own: its messages are not compared)"}`,
      });
      return {
        take: () => ({ candidate: candidate.take(), stable: stable?.take() ?? null }),
        stop: async () => void (await Promise.all([candidate.stop(), stable?.stop()])),
      };
    },
    notify: async (event) => {
      if (event.event === "promoted") await callWebhooks(hooks, "post-rollout", payload(100), i.webhookSecret);
      if (event.event === "rolled-back") await callWebhooks(hooks, "rollback", payload(0), i.webhookSecret);
    },
  };
}
