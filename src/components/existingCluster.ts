import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { targetOf } from "../config/kubeconfig";

export interface ExistingClusterArgs {
  /** The cluster's kubeconfig (YAML or JSON), a secret; without it, the deploying machine's own, at `context`. */
  kubeconfig?: pulumi.Output<string>;
  /** Which of its contexts; default: its current-context (required without a kubeconfig). */
  context?: string;
}

/**
 * A cluster the team already runs (cluster.mode existing): no cloud
 * resources, only the Kubernetes provider every Kubernetes resource of the
 * stack goes through, pinned to that kubeconfig and context (never the
 * machine's own $KUBECONFIG), and what the outputs say about it.
 */
export class ExistingCluster extends pulumi.ComponentResource {
  readonly provider: k8s.Provider;
  /** The kubeconfig given (secret); undefined when the machine's own is used. */
  readonly kubeconfig: pulumi.Output<string | undefined>;
  /** The context deployed to. */
  readonly name: pulumi.Output<string>;
  /** The API server's URL (a secret, like the GKE cluster's endpoint). */
  readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: ExistingClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:k8s:ExistingCluster", name, {}, opts);
    const given = args.kubeconfig ? pulumi.secret(args.kubeconfig) : undefined;
    this.kubeconfig = given ?? pulumi.output(undefined);
    // Without a kubeconfig the provider reads the machine's own ($KUBECONFIG or ~/.kube/config), pinned to the context.
    const target = given
      ? given.apply((text) => targetOf(text, args.context))
      : pulumi.output({ context: args.context ?? "(current-context)", server: "(the deploying machine's kubeconfig)" });
    this.name = pulumi.unsecret(target.apply((t) => t.context));
    this.endpoint = pulumi.secret(target.apply((t) => t.server));
    this.provider = new k8s.Provider(
      name,
      { ...(given ? { kubeconfig: given } : {}), ...(args.context ? { context: args.context } : {}), enableServerSideApply: true, deleteUnreachable: false },
      { parent: this },
    );
    this.registerOutputs({ name: this.name, endpoint: this.endpoint });
  }
}
