import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

/** Google APIs the stack needs; everything else depends on them being enabled. */
export const REQUIRED_APIS = [
  "compute.googleapis.com",
  "container.googleapis.com",
  "run.googleapis.com",
  "secretmanager.googleapis.com",
  "redis.googleapis.com",
  "monitoring.googleapis.com",
  "logging.googleapis.com",
  "iam.googleapis.com",
  "cloudresourcemanager.googleapis.com",
  "binaryauthorization.googleapis.com",
] as const;

export interface ProjectApisArgs {
  project: string;
}

export class ProjectApis extends pulumi.ComponentResource {
  readonly services: gcp.projects.Service[];

  constructor(name: string, args: ProjectApisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:gcp:ProjectApis", name, {}, opts);
    this.services = REQUIRED_APIS.map(
      (api) =>
        new gcp.projects.Service(
          `${name}-${api.split(".")[0]}`,
          // Other stacks in the same project may rely on the API: never disable it on destroy.
          { project: args.project, service: api, disableOnDestroy: false, disableDependentServices: false },
          { parent: this },
        ),
    );
    this.registerOutputs({ services: this.services.map((s) => s.service) });
  }
}
