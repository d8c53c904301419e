/** Pod specs for policy tests: one that meets every restricted control, and edits of it. */
export const IMAGE = "europe-docker.pkg.dev/acme/agents/api@sha256:" + "a".repeat(64);

export function restrictedContainer(name = "app"): Record<string, unknown> {
  return {
    name,
    image: IMAGE,
    ports: [{ containerPort: 8080, name: "http" }],
    resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
    readinessProbe: { httpGet: { path: "/ready", port: "http" } },
    livenessProbe: { httpGet: { path: "/health", port: "http" } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
  };
}

export function restrictedPodSpec(): Record<string, unknown> {
  return {
    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
    containers: [restrictedContainer()],
    volumes: [{ name: "tmp", emptyDir: {} }],
  };
}

const labels = { app: "api" };

/** The same pod spec wrapped in each workload kind, as resource inputs. */
export function asKind(type: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}, replicas = 1): Record<string, unknown> {
  const metadata = { name: "api", namespace: "agents", labels };
  const template = { metadata: { labels, annotations }, spec };
  switch (
    type
      .split(":")
      .pop()!
      .replace(/Patch$/, "")
  ) {
    case "PodTemplate":
      return { metadata, template };
    case "ReplicationController":
      return { metadata, spec: { replicas, selector: labels, template } };
    case "Pod":
      return { metadata: { ...metadata, annotations }, spec };
    case "Deployment":
    case "Rollout":
    case "StatefulSet":
    case "ReplicaSet":
      return { metadata, spec: { replicas, selector: { matchLabels: labels }, template } };
    case "DaemonSet":
      return { metadata, spec: { selector: { matchLabels: labels }, template } };
    case "Job":
      return { metadata, spec: { template: { ...template, spec: { ...spec, restartPolicy: "Never" } } } };
    case "CronJob":
      return { metadata, spec: { schedule: "*/5 * * * *", jobTemplate: { spec: { template: { ...template, spec: { ...spec, restartPolicy: "Never" } } } } } };
    default:
      throw new Error(`not a workload type: ${type}`);
  }
}

/** Deep-edits a pod spec: `edit` receives a structured clone. */
export function podWith(edit: (spec: Record<string, any>) => void): Record<string, unknown> {
  const spec = structuredClone(restrictedPodSpec()) as Record<string, any>;
  edit(spec);
  return spec;
}
