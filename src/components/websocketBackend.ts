import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { RuntimeSecrets } from "./runtimeSecrets";

export interface WebSocketBackendArgs {
  project: string;
  region: string;
  environment: StackConfig["environment"];
  backend: StackConfig["backend"];
  firebaseCredentials: pulumi.Input<string>;
  vpcId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  labels: Record<string, string>;
}

export const CONTAINER_PORT = 8080;
/** The Service's traffic block belongs to the release engine; Pulumi sets it only at creation. */
export const TRAFFIC_PATHS = ["traffics"];

/** Cloud Run revision names must start with the service name; derive them from the release version. */
export function revisionName(service: string, version: string): string {
  const slug = version
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `${service}-v${slug}`.slice(0, 63).replace(/-+$/, "");
}

/**
 * The WebSocket backend on Cloud Run v2: its own runtime identity, secrets
 * from Secret Manager, private egress to a Memorystore Redis that syncs state
 * across instances, and request timeouts sized for long-lived sockets.
 */
export class WebSocketBackend extends pulumi.ComponentResource {
  readonly service: gcp.cloudrunv2.Service;
  readonly serviceAccount: gcp.serviceaccount.Account;
  readonly redis: gcp.redis.Instance;
  readonly secrets: RuntimeSecrets;
  readonly revision: string;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: WebSocketBackendArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:gcp:WebSocketBackend", name, {}, opts);
    const child = { parent: this };
    const b = args.backend;

    this.serviceAccount = new gcp.serviceaccount.Account(
      `${name}-runtime`,
      { project: args.project, accountId: `${b.name}-run`.slice(0, 30), displayName: `Cloud Run runtime of ${b.name}` },
      child,
    );
    const runtimeMember = pulumi.interpolate`serviceAccount:${this.serviceAccount.email}`;

    this.redis = new gcp.redis.Instance(
      `${name}-redis`,
      {
        project: args.project,
        name: `${b.name}-redis`,
        region: args.region,
        tier: b.redis.tier,
        memorySizeGb: b.redis.memorySizeGb,
        authorizedNetwork: args.vpcId,
        connectMode: "DIRECT_PEERING",
        authEnabled: true,
        transitEncryptionMode: "SERVER_AUTHENTICATION",
        redisVersion: "REDIS_7_2",
        labels: args.labels,
      },
      child,
    );

    // Memorystore generates the AUTH string; it is handed to the service through Secret Manager.
    this.secrets = new RuntimeSecrets(
      `${name}-secrets`,
      {
        project: args.project,
        region: args.region,
        accessor: runtimeMember,
        labels: args.labels,
        entries: [
          { secretId: `${b.name}-redis-auth`, value: this.redis.authString },
          { secretId: `${b.name}-firebase-credentials`, value: args.firebaseCredentials },
          // The CA that signs Memorystore's server certificate: without it the client cannot verify the TLS it requires.
          { secretId: `${b.name}-redis-ca`, value: this.redis.serverCaCerts.apply((certs) => certs[0]?.cert ?? "") },
        ],
      },
      child,
    );
    const secretEnv = (envName: string, secretId: string) => {
      const ref = this.secrets.refs[secretId]!;
      return { name: envName, valueSource: { secretKeyRef: { secret: ref.secret, version: ref.version } } };
    };

    this.revision = revisionName(b.name, b.version);
    this.service = new gcp.cloudrunv2.Service(
      name,
      {
        project: args.project,
        name: b.name,
        location: args.region,
        ingress: b.ingress,
        deletionProtection: b.deletionProtection,
        // template.scaling.cpuUtilization is a Beta field of the Cloud Run Admin API.
        launchStage: "BETA",
        // access=public records the stack config's decision for people; the policy pack decides from its own list.
        labels: { ...args.labels, access: b.public ? "public" : "private" },
        // The project's Binary Authorization policy (ImagePolicy) admits only the stack's repositories' images.
        binaryAuthorization: { useDefault: true },
        template: {
          revision: this.revision,
          serviceAccount: this.serviceAccount.email,
          labels: { ...args.labels, release: this.revision },
          executionEnvironment: "EXECUTION_ENVIRONMENT_GEN2",
          timeout: `${b.timeoutSeconds}s`,
          // Best effort: a reconnecting client returns to the instance that holds its session.
          sessionAffinity: true,
          maxInstanceRequestConcurrency: b.concurrency,
          scaling: { minInstanceCount: b.minInstances, maxInstanceCount: b.maxInstances, cpuUtilization: b.cpuTargetPercent / 100 },
          vpcAccess: {
            networkInterfaces: [{ network: args.vpcId, subnetwork: args.subnetId }],
            egress: "PRIVATE_RANGES_ONLY",
          },
          containers: [
            {
              name: b.name,
              image: b.image,
              // HTTP/1.1: end-to-end HTTP/2 (h2c) would break WebSocket upgrades.
              ports: { name: "http1", containerPort: CONTAINER_PORT },
              resources: {
                limits: { cpu: b.resources.cpu, memory: b.resources.memory },
                // Sockets need CPU between requests: keep it allocated.
                cpuIdle: false,
                startupCpuBoost: true,
              },
              envs: [
                { name: "APP_ENV", value: args.environment },
                { name: "RELEASE_VERSION", value: b.version },
                { name: "REDIS_HOST", value: this.redis.host },
                { name: "REDIS_PORT", value: this.redis.port.apply(String) },
                { name: "REDIS_TLS", value: "true" },
                secretEnv("REDIS_AUTH", `${b.name}-redis-auth`),
                secretEnv("REDIS_CA_CERT", `${b.name}-redis-ca`),
                secretEnv("FIREBASE_CREDENTIALS", `${b.name}-firebase-credentials`),
              ],
              startupProbe: { httpGet: { path: "/health", port: CONTAINER_PORT }, periodSeconds: 2, failureThreshold: 30, timeoutSeconds: 1 },
              livenessProbe: { httpGet: { path: "/health", port: CONTAINER_PORT }, periodSeconds: 15, failureThreshold: 3, timeoutSeconds: 2 },
            },
          ],
        },
        // Creation only (see TRAFFIC_PATHS). Pinned to a revision, never LATEST: with LATEST every
        // template change would send all traffic to the new revision before any gate ran.
        traffics: [{ type: "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", revision: this.revision, percent: 100 }],
      },
      { parent: this, dependsOn: this.secrets.grants, ignoreChanges: TRAFFIC_PATHS },
    );

    const invokers = [...(b.public ? ["allUsers"] : []), ...b.invokers];
    invokers.forEach((member, i) => {
      new gcp.cloudrunv2.ServiceIamMember(
        `${name}-invoker-${i}`,
        { project: args.project, location: args.region, name: this.service.name, role: "roles/run.invoker", member },
        child,
      );
    });

    this.url = this.service.uri;
    this.registerOutputs({ url: this.url, revision: this.revision });
  }
}
