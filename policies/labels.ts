import type { ResourceValidationPolicy } from "@pulumi/policy";
import { z } from "zod";
import { configSchemaOf, read, readConfig } from "./lib/policy";

/**
 * GCP resource types this stack family uses that take labels, and the
 * property holding them (`@pulumi/gcp` input names). Types without labels
 * (networks, subnetworks, routers, service accounts, IAM members, API
 * enablement, dashboards) are not listed: there is nothing to set.
 */
export const LABEL_PROPERTY: Readonly<Record<string, readonly string[]>> = {
  "gcp:cloudrunv2/service:Service": ["labels"],
  "gcp:cloudrunv2/job:Job": ["labels"],
  "gcp:container/cluster:Cluster": ["resourceLabels"],
  "gcp:container/nodePool:NodePool": ["nodeConfig", "resourceLabels"],
  "gcp:secretmanager/secret:Secret": ["labels"],
  "gcp:redis/instance:Instance": ["labels"],
  "gcp:monitoring/alertPolicy:AlertPolicy": ["userLabels"],
  "gcp:monitoring/notificationChannel:NotificationChannel": ["userLabels"],
  "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": ["userLabels"],
  "gcp:storage/bucket:Bucket": ["labels"],
  "gcp:compute/instance:Instance": ["labels"],
  "gcp:compute/disk:Disk": ["labels"],
  "gcp:compute/address:Address": ["labels"],
  "gcp:compute/globalAddress:GlobalAddress": ["labels"],
  "gcp:kms/cryptoKey:CryptoKey": ["labels"],
  "gcp:pubsub/topic:Topic": ["labels"],
  "gcp:pubsub/subscription:Subscription": ["labels"],
  "gcp:sql/databaseInstance:DatabaseInstance": ["settings", "userLabels"],
  "gcp:artifactregistry/repository:Repository": ["labels"],
  "gcp:bigquery/dataset:Dataset": ["labels"],
};

const LabelsConfig = z.strictObject({
  /** Label keys every labelable GCP resource must carry. */
  required: z
    .array(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/))
    .min(1)
    .default(["env", "owner", "managed-by"]),
});

export const gcpStandardLabels: ResourceValidationPolicy = {
  name: "gcp-standard-labels",
  description: "Every GCP resource that supports labels carries env, owner and managed-by (cost reports, alert routing and clean-up depend on them).",
  severity: "low",
  enforcementLevel: "mandatory",
  configSchema: configSchemaOf(LabelsConfig),
  validateResource: (args, report) => {
    const path = LABEL_PROPERTY[args.type];
    if (!path) return args.notApplicable("resource type has no labels");
    const cfg = readConfig("gcp-standard-labels", LabelsConfig, args);
    const labels = read(
      () => path.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], args.props) as Record<string, string> | undefined,
    );
    if (labels.kind === "unknown") return;
    const have = labels.kind === "value" ? labels.value : {};
    const missing = cfg.required.filter((k) => !have[k]);
    if (missing.length) report(`${path.join(".")} lacks ${missing.join(", ")}: add them (the program's standardLabels() sets env, owner and managed-by).`);
  },
};
