import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";

export interface MonitoringArgs {
  project: string;
  environment: StackConfig["environment"];
  monitoring: StackConfig["monitoring"];
  serviceName: string;
  maxInstances: number;
  backendUrl: pulumi.Input<string>;
  slackWebhookUrl?: pulumi.Input<string>;
  alertWebhookUrl?: pulumi.Input<string>;
  labels: Record<string, string>;
}

/**
 * PromQL over Cloud Run's system metrics as Managed Service for Prometheus
 * exposes them (`run_googleapis_com:*`). Grouping by revision is what lets a
 * canary and its stable revision be compared side by side.
 */
export const promql = {
  errorRatio: (svc: string, by = "") =>
    `sum${by}(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${svc}",response_code_class="5xx"}[5m])) / sum${by}(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${svc}"}[5m]))`,
  p95LatencyMs: (svc: string, by = "") =>
    `histogram_quantile(0.95, sum by (le${by ? `, ${by.replace(/^ by \(|\)$/g, "")}` : ""}) (rate(run_googleapis_com:request_latencies_bucket{monitored_resource="cloud_run_revision",service_name="${svc}"}[5m])))`,
  cpuP99: (svc: string) =>
    `histogram_quantile(0.99, sum by (le) (rate(run_googleapis_com:container_cpu_utilizations_bucket{monitored_resource="cloud_run_revision",service_name="${svc}"}[5m])))`,
  instances: (svc: string, by = "") => `sum${by}(run_googleapis_com:container_instance_count{monitored_resource="cloud_run_revision",service_name="${svc}"})`,
  requestRate: (svc: string, by = "") => `sum${by}(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${svc}"}[1m]))`,
};
const BY_REVISION = " by (revision_name)";

/** Uptime check, alert policies, notification channels and a candidate-vs-stable dashboard. */
export class Monitoring extends pulumi.ComponentResource {
  readonly channels: gcp.monitoring.NotificationChannel[] = [];
  readonly alerts: gcp.monitoring.AlertPolicy[] = [];
  readonly uptimeCheck: gcp.monitoring.UptimeCheckConfig;
  readonly dashboard?: gcp.monitoring.Dashboard;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:gcp:Monitoring", name, {}, opts);
    const child = { parent: this };
    const m = args.monitoring;
    const svc = args.serviceName;
    const base = { project: args.project, userLabels: args.labels };

    m.emails.forEach((email, i) => {
      this.channels.push(
        new gcp.monitoring.NotificationChannel(
          `${name}-email-${i}`,
          { ...base, type: "email", displayName: `Email ${email}`, labels: { email_address: email } },
          child,
        ),
      );
    });
    if (args.slackWebhookUrl && m.level !== "minimal") {
      this.channels.push(
        new gcp.monitoring.NotificationChannel(
          `${name}-slack`,
          { ...base, type: "webhook_tokenauth", displayName: `Slack (${args.environment})`, labels: { url: pulumi.secret(args.slackWebhookUrl) } },
          child,
        ),
      );
    }
    if (args.alertWebhookUrl && m.level === "comprehensive") {
      this.channels.push(
        new gcp.monitoring.NotificationChannel(
          `${name}-webhook`,
          { ...base, type: "webhook_tokenauth", displayName: `Webhook (${args.environment})`, labels: { url: pulumi.secret(args.alertWebhookUrl) } },
          child,
        ),
      );
    }
    const notificationChannels = this.channels.map((c) => c.name);

    const host = pulumi.output(args.backendUrl).apply((u) => new URL(u).host);
    this.uptimeCheck = new gcp.monitoring.UptimeCheckConfig(
      `${name}-health`,
      {
        ...base,
        displayName: `${svc} /health (${args.environment})`,
        period: m.level === "minimal" ? "300s" : "60s",
        timeout: "10s",
        monitoredResource: { type: "uptime_url", labels: { project_id: args.project, host } },
        httpCheck: { path: "/health", port: 443, useSsl: true, validateSsl: true, acceptedResponseStatusCodes: [{ statusClass: "STATUS_CLASS_2XX" }] },
      },
      child,
    );

    const alert = (id: string, title: string, query: string, severity: "ERROR" | "CRITICAL" | "WARNING", runbook: string) => {
      const policy = new gcp.monitoring.AlertPolicy(
        `${name}-${id}`,
        {
          ...base,
          displayName: `${svc} ${title} (${args.environment})`,
          combiner: "OR",
          severity,
          notificationChannels,
          conditions: [{ displayName: title, conditionPrometheusQueryLanguage: { query, duration: "300s", evaluationInterval: "60s" } }],
          documentation: { mimeType: "text/markdown", subject: `${svc}: ${title}`, content: runbook },
          alertStrategy: { autoClose: "1800s" },
        },
        child,
      );
      this.alerts.push(policy);
    };
    alert(
      "error-rate",
      `5xx error rate above ${pct(m.errorRateThreshold)}`,
      `${promql.errorRatio(svc)} > ${m.errorRateThreshold}`,
      "CRITICAL",
      "More than the allowed share of requests fail. If a release is in progress the release engine rolls back by itself; otherwise run `npm run rollback`.",
    );
    alert(
      "p95-latency",
      `p95 latency above ${m.p95LatencyMs} ms`,
      `${promql.p95LatencyMs(svc)} > ${m.p95LatencyMs}`,
      "ERROR",
      "Requests are slow. Check instance saturation and Redis latency.",
    );
    alert(
      "saturation",
      `CPU or instances above ${pct(m.saturationThreshold)}`,
      `(${promql.cpuP99(svc)} > ${m.saturationThreshold}) or (${promql.instances(svc)} / ${args.maxInstances} > ${m.saturationThreshold})`,
      "WARNING",
      "The service is close to its capacity. Raise backend.maxInstances or backend.concurrency in the stack config.",
    );
    if (m.level === "comprehensive") {
      this.alerts.push(
        new gcp.monitoring.AlertPolicy(
          `${name}-uptime`,
          {
            ...base,
            displayName: `${svc} health check failing (${args.environment})`,
            combiner: "OR",
            severity: "CRITICAL",
            notificationChannels,
            conditions: [
              {
                displayName: "uptime check failed",
                conditionThreshold: {
                  filter: pulumi.interpolate`metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND resource.type="uptime_url" AND metric.label.check_id="${this.uptimeCheck.uptimeCheckId}"`,
                  comparison: "COMPARISON_GT",
                  thresholdValue: 1,
                  duration: "180s",
                  aggregations: [
                    {
                      alignmentPeriod: "60s",
                      perSeriesAligner: "ALIGN_NEXT_OLDER",
                      crossSeriesReducer: "REDUCE_COUNT_FALSE",
                      groupByFields: ["resource.label.host"],
                    },
                  ],
                },
              },
            ],
          },
          child,
        ),
      );
    }

    if (m.level !== "minimal") {
      this.dashboard = new gcp.monitoring.Dashboard(
        `${name}-release`,
        { project: args.project, dashboardJson: JSON.stringify(releaseDashboard(svc, args.environment)) },
        child,
      );
    }
    this.registerOutputs({ uptimeCheck: this.uptimeCheck.uptimeCheckId, alerts: this.alerts.map((a) => a.name), dashboard: this.dashboard?.id });
  }
}

const pct = (ratio: number): string => `${Math.round(ratio * 1000) / 10}%`;

/** Every chart splits by revision, so the candidate and the stable revision sit side by side. */
export function releaseDashboard(svc: string, environment: string) {
  const chart = (title: string, query: string, xPos: number, yPos: number) => ({
    xPos,
    yPos,
    width: 6,
    height: 4,
    widget: {
      title,
      xyChart: { dataSets: [{ prometheusQuery: query, plotType: "LINE", legendTemplate: "${labels.revision_name}" }], yAxis: { scale: "LINEAR" } },
    },
  });
  return {
    displayName: `${svc} release: candidate vs stable (${environment})`,
    mosaicLayout: {
      columns: 12,
      tiles: [
        chart("Requests/s by revision", promql.requestRate(svc, BY_REVISION), 0, 0),
        chart("5xx ratio by revision", promql.errorRatio(svc, BY_REVISION), 6, 0),
        chart("p95 latency (ms) by revision", promql.p95LatencyMs(svc, BY_REVISION), 0, 4),
        chart("Instances by revision", promql.instances(svc, BY_REVISION), 6, 4),
      ],
    },
  };
}
