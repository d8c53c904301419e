import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { describeForecast, forecast } from "../release/analysis/forecast";
import { releaseRecord, TrafficSplit } from "../release/provider/trafficSplit";
import type { ReleaseRecord } from "../release/record";
import { forecastRefusal } from "../release/plan";
import { DEFAULT_DEADLINE_SECONDS } from "../release/provider/inputs";
import { releaseSpec } from "../release/spec";
import { slotName, slotPath } from "./agentWorkloads";
import { revisionName } from "./websocketBackend";

export interface ReleaseArgs {
  config: StackConfig;
  /** The Cloud Run service (its name is the data dependency that orders the split after the new revision). */
  serviceName: pulumi.Output<string>;
  /** The cluster's kubeconfig; undefined: the machine's own, at `kubeContext` (cluster.mode existing with a context only). */
  kubeconfig: pulumi.Output<string | undefined>;
  kubeContext?: string;
  vercelToken: pulumi.Output<string>;
  vercelProjectId: pulumi.Output<string>;
  /** Signs the release's webhooks (secret). */
  webhookSecret?: pulumi.Output<string>;
}

/** Managed Service for Prometheus answers the Prometheus HTTP API per project. */
export const managedPrometheusUrl = (project: string) => `https://monitoring.googleapis.com/v1/projects/${project}/location/global/prometheus`;

/** Metrics the agent services expose for blue/green analysis (scraped by Managed Prometheus). */
export const AGENT_TEMPLATES = {
  requests: 'http_requests_total{service="{{revision}}"}',
  errors: 'http_requests_total{service="{{revision}}",code=~"5.."}',
  latencyBuckets: 'http_request_duration_seconds_bucket{service="{{revision}}"}',
  latencyUnit: "s" as const,
};

/**
 * The stack's traffic splits: the release engine's resources. Production's
 * backend goes canary on Cloud Run (with Vercel's rolling release in
 * lockstep when deployments are given), staging's exposed agents go
 * blue-green on their HTTPRoutes, dev goes direct. A split exists only when
 * there is something to shift: a stable version different from the new one.
 */
export class Release extends pulumi.ComponentResource {
  /** Each split's release record, by what it releases ("backend" or the agent service's name). */
  readonly records: Record<string, pulumi.Output<ReleaseRecord>> = {};

  constructor(name: string, args: ReleaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:release:Release", name, {}, opts);
    const c = args.config;
    const r = c.release;
    const child = { parent: this };

    if (r.target === "cloud-run" && c.backend.stableVersion && c.backend.stableVersion !== c.backend.version) {
      const stable = revisionName(c.backend.name, c.backend.stableVersion);
      const candidate = revisionName(c.backend.name, c.backend.version);
      const deployments = c.frontend.deployments;
      const followers =
        deployments && c.frontend.rollingRelease
          ? pulumi.all([args.vercelProjectId, args.vercelToken]).apply(([projectId, token]) => [
              {
                kind: "vercel" as const,
                projectId,
                token,
                canaryDeploymentId: deployments.canary,
                stableDeploymentId: deployments.stable,
                ...(c.frontend.teamId ? { teamId: c.frontend.teamId } : {}),
              },
            ])
          : [];
      this.track(
        "backend",
        new TrafficSplit(
          `${name}-backend`,
          {
            environment: c.environment,
            target: args.serviceName.apply((service) => ({
              kind: "cloud-run" as const,
              project: c.gcp.project,
              region: c.gcp.region,
              service,
              candidateTag: "candidate",
            })),
            stable,
            candidate,
            release: r,
            ...(c.releaseImmediately ? { immediate: true } : {}),
            ...(c.releaseAllowInconclusive ? { allowInconclusive: true } : {}),
            metrics: { url: managedPrometheusUrl(c.gcp.project), preset: "cloud-run", scope: c.backend.name, auth: "google" },
            followers,
            ...(args.webhookSecret ? { webhookSecret: args.webhookSecret } : {}),
          },
          child,
        ),
      );
      this.announce(`${c.backend.name}: ${candidate} over ${stable}`, c, stable, candidate);
    }

    if (r.target === "http-route") {
      for (const svc of c.workloads.services.filter((s) => s.expose)) {
        const idle = svc.activeSlot === "blue" ? "green" : "blue";
        if (!svc.images[idle] || svc.images[idle] === svc.images[svc.activeSlot]) continue;
        this.track(
          svc.name,
          new TrafficSplit(
            `${name}-${svc.name}`,
            {
              environment: c.environment,
              target: args.kubeconfig.apply((kubeconfig) => ({
                kind: "http-route" as const,
                namespace: c.workloads.namespace,
                name: svc.name,
                ruleIndex: 0,
                stableBackend: slotName(svc.name, svc.activeSlot),
                candidateBackend: slotName(svc.name, idle),
                ...(kubeconfig ? { kubeconfig } : {}),
                ...(args.kubeContext ? { context: args.kubeContext } : {}),
                // The slots' own paths on the Gateway (schema: an http-route release needs workloads.hostname).
                ...(c.workloads.hostname
                  ? {
                      candidateUrl: `http://${c.workloads.hostname}${slotPath(svc.name, idle)}`,
                      stableUrl: `http://${c.workloads.hostname}${slotPath(svc.name, svc.activeSlot)}`,
                    }
                  : {}),
              })),
              stable: slotName(svc.name, svc.activeSlot),
              candidate: slotName(svc.name, idle),
              // Slot names repeat every release: the idle slot's image is what makes one release differ from the next
              // (a fixed image after a rejection is a new attempt, not "no changes").
              retryToken: svc.images[idle].split("@")[1] ?? svc.images[idle],
              release: r,
              ...(c.releaseImmediately ? { immediate: true } : {}),
              ...(c.releaseAllowInconclusive ? { allowInconclusive: true } : {}),
              metrics: { url: managedPrometheusUrl(c.gcp.project), preset: "custom", templates: AGENT_TEMPLATES, auth: "google" },
              ...(args.webhookSecret ? { webhookSecret: args.webhookSecret } : {}),
            },
            child,
          ),
        );
        this.announce(
          `${svc.name}: ${slotName(svc.name, idle)} over ${slotName(svc.name, svc.activeSlot)}`,
          c,
          slotName(svc.name, svc.activeSlot),
          slotName(svc.name, idle),
        );
      }
    }
    this.registerOutputs({ records: this.records });
  }

  /** Keeps a split's release record, under what it releases. */
  private track(key: string, split: TrafficSplit): void {
    this.records[key] = releaseRecord(split);
  }

  /**
   * Shown in `pulumi preview` (and the offline plan): how long the rollout
   * should take and what it can detect; in production, an error when its
   * TrafficSplit will refuse to start it (so a pull request's plan says so).
   */
  private announce(what: string, c: StackConfig, stable: string, candidate: string) {
    const r = c.release;
    if (c.releaseImmediately === true) {
      void pulumi.log.warn(
        `release ${what}: IMMEDIATE (releaseImmediately is set): 100% at once, without steps or gates; remove it after the emergency (pulumi config rm releaseImmediately)`,
        this,
      );
      return;
    }
    if (r.strategy === "direct") {
      void pulumi.log.info(`release ${what}: direct (smoke tests, then 100%)`, this);
      return;
    }
    const spec = releaseSpec(r);
    void pulumi.log.info(`release ${what}: ${describeForecast(forecast(spec, r.analysis.expectedRps))}`, this);
    const refusal = forecastRefusal(
      {
        environment: c.environment,
        stable,
        candidate,
        release: r,
        deadlineSeconds: DEFAULT_DEADLINE_SECONDS,
        immediate: false,
        allowInconclusive: c.releaseAllowInconclusive === true,
      },
      spec,
    );
    if (refusal) void pulumi.log.error(`release ${what}: ${refusal}`, this);
  }
}
