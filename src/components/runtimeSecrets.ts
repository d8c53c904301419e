import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface SecretEntry {
  /** Secret Manager secret id, e.g. "ws-backend-redis-auth". */
  secretId: string;
  /** Always a Pulumi secret; it is stored encrypted in state. */
  value: pulumi.Input<string>;
}

export interface RuntimeSecretsArgs {
  project: string;
  region: string;
  entries: SecretEntry[];
  /** The only principal granted secretAccessor, e.g. "serviceAccount:run@p.iam.gserviceaccount.com". */
  accessor: pulumi.Input<string>;
  labels: Record<string, string>;
}

export interface SecretRef {
  secret: pulumi.Output<string>;
  /** The pinned version number: a rollback redeploys the value it ran with. */
  version: pulumi.Output<string>;
}

/** Secret Manager secrets and versions, readable only by one runtime identity. */
export class RuntimeSecrets extends pulumi.ComponentResource {
  readonly refs: Record<string, SecretRef> = {};
  /** Consumers depend on these: a revision that starts before its grant cannot read the secret. */
  readonly grants: gcp.secretmanager.SecretIamMember[] = [];

  constructor(name: string, args: RuntimeSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:gcp:RuntimeSecrets", name, {}, opts);
    const child = { parent: this };
    for (const entry of args.entries) {
      const secret = new gcp.secretmanager.Secret(
        entry.secretId,
        {
          project: args.project,
          secretId: entry.secretId,
          replication: { userManaged: { replicas: [{ location: args.region }] } },
          labels: args.labels,
        },
        child,
      );
      const version = new gcp.secretmanager.SecretVersion(entry.secretId, { secret: secret.id, secretData: pulumi.secret(entry.value) }, child);
      const grant = new gcp.secretmanager.SecretIamMember(
        `${entry.secretId}-accessor`,
        { project: args.project, secretId: secret.secretId, role: "roles/secretmanager.secretAccessor", member: args.accessor },
        child,
      );
      this.grants.push(grant);
      this.refs[entry.secretId] = { secret: secret.secretId, version: version.version };
    }
    this.registerOutputs({ refs: this.refs });
  }
}
