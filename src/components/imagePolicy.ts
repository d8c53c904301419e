import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

/** An Artifact Registry repository, as an image reference names it (LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/...). */
export interface ImageRepository {
  location: string;
  project: string;
  repository: string;
}

/** The repository of an Artifact Registry image reference, or undefined for other registries (pure). */
export function repositoryOf(image: string): ImageRepository | undefined {
  const m = /^([a-z0-9-]+)-docker\.pkg\.dev\/([a-z][-a-z0-9]{4,28}[a-z0-9])\/([a-z0-9][a-z0-9._-]*)\/./.exec(image);
  return m ? { location: m[1]!, project: m[2]!, repository: m[3]! } : undefined;
}

/** Distinct repositories of a list of images, in a stable order (pure). */
export function repositoriesOf(images: readonly string[]): ImageRepository[] {
  const seen = new Map<string, ImageRepository>();
  for (const image of images) {
    const r = repositoryOf(image);
    if (r) seen.set(`${r.location}/${r.project}/${r.repository}`, r);
  }
  return [...seen.values()].sort((a, b) => `${a.location}/${a.project}/${a.repository}`.localeCompare(`${b.location}/${b.project}/${b.repository}`));
}

/** The admission pattern for a repository's images (Binary Authorization's admissionWhitelistPatterns syntax). */
export const admissionPattern = (r: ImageRepository) => `${r.location}-docker.pkg.dev/${r.project}/${r.repository}/**`;

export interface ImagePolicyArgs {
  project: string;
  /** Every image the stack deploys (agents' slots, the backend). */
  images: readonly string[];
}

/**
 * The project's Binary Authorization policy, which the GKE cluster
 * (PROJECT_SINGLETON_POLICY_ENFORCE) and the Cloud Run service (useDefault)
 * enforce: only images from the repositories the stack's own images come
 * from are admitted, plus Google's system images; anything else is blocked
 * and audit-logged.
 */
export class ImagePolicy extends pulumi.ComponentResource {
  readonly policy: gcp.binaryauthorization.Policy;

  constructor(name: string, args: ImagePolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:gcp:ImagePolicy", name, {}, opts);
    this.policy = new gcp.binaryauthorization.Policy(
      name,
      {
        project: args.project,
        globalPolicyEvaluationMode: "ENABLE",
        admissionWhitelistPatterns: repositoriesOf(args.images).map((r) => ({ namePattern: admissionPattern(r) })),
        defaultAdmissionRule: { evaluationMode: "ALWAYS_DENY", enforcementMode: "ENFORCED_BLOCK_AND_AUDIT_LOG" },
      },
      { parent: this },
    );
    this.registerOutputs({ policy: this.policy.id });
  }
}
