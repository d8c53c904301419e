import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AgentService, Slot, StackConfig } from "../config/schema";

export interface AgentWorkloadsArgs {
  environment: StackConfig["environment"];
  workloads: StackConfig["workloads"];
  /** Where the Gateway's data plane connects from (GKE: the proxy-only subnet and Google's health checkers). */
  gatewaySources: readonly string[];
  provider: k8s.Provider;
}

export const SLOTS: readonly Slot[] = ["blue", "green"];
export const GATEWAY_NAME = "agents";
/** Google's load-balancer health-check source ranges (Cloud Load Balancing docs). */
export const HEALTH_CHECK_RANGES = ["35.191.0.0/16", "130.211.0.0/22"] as const;
/** Property paths of an HTTPRoute that the release engine owns; Pulumi never re-asserts them. */
export const ROUTE_WEIGHT_PATHS = ["spec.rules[*].backendRefs[*].weight"];

const WORKLOAD_UID = 10001;

export const slotName = (service: string, slot: Slot): string => `${service}-${slot}`;
/** The path at which the Gateway serves one slot of a service on its own (rewritten to /<service>). */
export const slotPath = (service: string, slot: Slot): string => `/${service}/slots/${slot}`;

const appLabels = (service: string) => ({ "app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "agents", "app.kubernetes.io/managed-by": "pulumi" });

/**
 * The internal agent services in one namespace: a Deployment per blue/green
 * slot, Services, autoscaling, disruption budgets, default-deny network
 * policy with the allow rules they need, and a Gateway whose HTTPRoutes hold
 * the weighted backends the release engine shifts.
 */
export class AgentWorkloads extends pulumi.ComponentResource {
  readonly namespace: k8s.core.v1.Namespace;
  readonly deployments: Record<string, k8s.apps.v1.Deployment> = {};
  readonly routes: Record<string, k8s.apiextensions.CustomResource> = {};

  constructor(name: string, args: AgentWorkloadsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:k8s:AgentWorkloads", name, {}, { ...opts, providers: { kubernetes: args.provider } });
    const w = args.workloads;
    const child = { parent: this };
    const ns = w.namespace;

    this.namespace = new k8s.core.v1.Namespace(
      `${name}-ns`,
      {
        metadata: {
          name: ns,
          labels: {
            // The API server itself rejects pods that break the restricted profile.
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "delivery/environment": args.environment,
          },
        },
      },
      child,
    );
    const inNs = { ...child, dependsOn: [this.namespace] };

    this.declareBaselinePolicies(name, ns, w.egress, inNs);

    for (const svc of w.services) {
      const sa = new k8s.core.v1.ServiceAccount(
        `${name}-${svc.name}`,
        { metadata: { name: svc.name, namespace: ns, labels: appLabels(svc.name) }, automountServiceAccountToken: false },
        inNs,
      );
      for (const slot of SLOTS) {
        const id = slotName(svc.name, slot);
        const labels = { ...appLabels(svc.name), "delivery/slot": slot };
        // A Service per slot exists even while the slot is empty, so the route's backendRefs always resolve.
        new k8s.core.v1.Service(
          `${name}-${id}`,
          {
            metadata: { name: id, namespace: ns, labels },
            spec: { type: "ClusterIP", selector: labels, ports: [{ name: "http", port: svc.port, targetPort: "http" }] },
          },
          inNs,
        );
        const image = svc.images[slot];
        if (!image) continue;
        this.deployments[id] = this.declareSlot(name, svc, slot, image, labels, sa.metadata.name, args, inNs);
      }
      this.declareServicePolicies(name, ns, svc, w.services, args.gatewaySources, inNs);
      if (svc.expose) this.routes[svc.name] = this.declareRoute(name, svc, w, inNs);
    }

    if (w.services.some((s) => s.expose)) {
      new k8s.apiextensions.CustomResource(
        `${name}-gateway`,
        {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "Gateway",
          metadata: { name: GATEWAY_NAME, namespace: ns },
          spec: {
            gatewayClassName: w.gatewayClassName,
            listeners: [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "Same" } } }],
          },
        },
        inNs,
      );
    }
    this.registerOutputs({ namespace: ns });
  }

  private declareSlot(
    name: string,
    svc: AgentService,
    slot: Slot,
    image: string,
    labels: Record<string, string>,
    serviceAccountName: pulumi.Input<string>,
    args: AgentWorkloadsArgs,
    opts: pulumi.CustomResourceOptions,
  ): k8s.apps.v1.Deployment {
    const w = args.workloads;
    const id = slotName(svc.name, slot);
    const resources = { cpu: w.resources.cpu, memory: w.resources.memory };
    const deployment = new k8s.apps.v1.Deployment(
      `${name}-${id}`,
      {
        metadata: { name: id, namespace: w.namespace, labels },
        spec: {
          // The HPA owns the replica count after creation.
          replicas: w.replicas,
          selector: { matchLabels: labels },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName,
              automountServiceAccountToken: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: WORKLOAD_UID,
                runAsGroup: WORKLOAD_UID,
                fsGroup: WORKLOAD_UID,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [
                {
                  name: svc.name,
                  image,
                  ports: [{ name: "http", containerPort: svc.port }],
                  env: [
                    { name: "APP_ENV", value: args.environment },
                    { name: "DELIVERY_SLOT", value: slot },
                    { name: "PORT", value: String(svc.port) },
                  ],
                  resources: { requests: resources, limits: resources },
                  livenessProbe: { httpGet: { path: "/health", port: "http" }, periodSeconds: 10, failureThreshold: 3 },
                  readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 5, failureThreshold: 3 },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    runAsNonRoot: true,
                    capabilities: { drop: ["ALL"] },
                  },
                  volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                },
              ],
              volumes: [{ name: "tmp", emptyDir: { sizeLimit: "64Mi" } }],
            },
          },
        },
      },
      { ...opts, ignoreChanges: ["spec.replicas"] },
    );
    new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      `${name}-${id}`,
      {
        metadata: { name: id, namespace: w.namespace, labels },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name },
          minReplicas: w.replicas,
          maxReplicas: w.maxReplicas,
          metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: w.cpuTargetPercent } } }],
        },
      },
      opts,
    );
    if (w.replicas > 1) {
      new k8s.policy.v1.PodDisruptionBudget(
        `${name}-${id}`,
        { metadata: { name: id, namespace: w.namespace, labels }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
        opts,
      );
    }
    return deployment;
  }

  private declareRoute(name: string, svc: AgentService, w: StackConfig["workloads"], opts: pulumi.CustomResourceOptions) {
    return new k8s.apiextensions.CustomResource(
      `${name}-${svc.name}-route`,
      {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: svc.name, namespace: w.namespace, labels: appLabels(svc.name) },
        spec: {
          parentRefs: [{ name: GATEWAY_NAME }],
          ...(w.hostname ? { hostnames: [w.hostname] } : {}),
          rules: [
            // Rule 0 is the release's split (the engine moves its weights).
            {
              matches: [{ path: { type: "PathPrefix", value: `/${svc.name}` } }],
              backendRefs: SLOTS.map((slot) => ({ name: slotName(svc.name, slot), port: svc.port, weight: slot === svc.activeSlot ? 100 : 0 })),
            },
            // Each slot at its own path, so the release can smoke-test and health-check the idle slot before it takes traffic.
            ...SLOTS.map((slot) => ({
              matches: [{ path: { type: "PathPrefix", value: slotPath(svc.name, slot) } }],
              filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: `/${svc.name}` } } }],
              backendRefs: [{ name: slotName(svc.name, slot), port: svc.port }],
            })),
          ],
        },
      },
      // Initial weights only: afterwards the release engine is their single owner.
      { ...opts, ignoreChanges: ROUTE_WEIGHT_PATHS },
    );
  }

  private declareBaselinePolicies(name: string, ns: string, egress: StackConfig["workloads"]["egress"], opts: pulumi.CustomResourceOptions) {
    const policy = (id: string, spec: k8s.types.input.networking.v1.NetworkPolicySpec) =>
      new k8s.networking.v1.NetworkPolicy(`${name}-${id}`, { metadata: { name: id, namespace: ns }, spec }, opts);
    policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    policy("allow-dns", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        {
          to: [
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } },
          ],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    });
    // Outside the cluster: exactly the destinations the config lists (default: Google APIs' private range),
    // and the GKE metadata server for Workload Identity. No "any host on 443".
    policy("allow-egress", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        ...egress.map((e) => ({ to: [{ ipBlock: { cidr: e.cidr } }], ports: e.ports.map((port) => ({ protocol: "TCP", port })) })),
        {
          to: [{ ipBlock: { cidr: "169.254.169.254/32" } }, { ipBlock: { cidr: "169.254.169.252/32" } }],
          ports: [
            { protocol: "TCP", port: 80 },
            { protocol: "TCP", port: 988 },
          ],
        },
      ],
    });
  }

  private declareServicePolicies(
    name: string,
    ns: string,
    svc: AgentService,
    all: AgentService[],
    gatewaySources: readonly string[],
    opts: pulumi.CustomResourceOptions,
  ) {
    const callers = all.filter((s) => s.talksTo.includes(svc.name));
    const from: k8s.types.input.networking.v1.NetworkPolicyPeer[] = callers.map((c) => ({
      podSelector: { matchLabels: { "app.kubernetes.io/name": c.name } },
    }));
    if (svc.expose) from.push(...gatewaySources.map((cidr) => ({ ipBlock: { cidr } })));
    if (from.length > 0) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-${svc.name}-ingress`,
        {
          metadata: { name: `${svc.name}-ingress`, namespace: ns },
          spec: {
            podSelector: { matchLabels: { "app.kubernetes.io/name": svc.name } },
            policyTypes: ["Ingress"],
            ingress: [{ from, ports: [{ protocol: "TCP", port: svc.port }] }],
          },
        },
        opts,
      );
    }
    const targets = all.filter((s) => svc.talksTo.includes(s.name));
    if (targets.length > 0) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-${svc.name}-egress`,
        {
          metadata: { name: `${svc.name}-egress`, namespace: ns },
          spec: {
            podSelector: { matchLabels: { "app.kubernetes.io/name": svc.name } },
            policyTypes: ["Egress"],
            egress: targets.map((t) => ({
              to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": t.name } } }],
              ports: [{ protocol: "TCP", port: t.port }],
            })),
          },
        },
        opts,
      );
    }
  }
}
