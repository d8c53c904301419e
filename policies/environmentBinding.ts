import type { ResourceValidationPolicy } from "@pulumi/policy";
import { declaredEnvironment, environmentOfStack, isProjectNumber, projectEnvironment, projectOf, stackOfUrn } from "./lib/environment";

/**
 * The environment a resource says it is in must be the one the pack
 * vouches for: its GCP project's binding (environments.json) and the
 * stack's name. A production project is production whatever the program
 * labels it, and a dev stack does not deploy into a production project.
 */
export const environmentBinding: ResourceValidationPolicy = {
  name: "environment-binding",
  description:
    "A resource's declared environment (labels, the release's input) agrees with the environment the pack binds its GCP project to (policies/environments.json) and with the stack's name; a stack does not deploy into another environment's project.",
  severity: "critical",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const project = projectOf(args.props);
    const byProject = project ? projectEnvironment(project) : undefined;
    const stack = stackOfUrn(args.urn);
    const byStack = environmentOfStack(stack);
    if (project && isProjectNumber(project))
      report(
        `GCP project ${project} is given by number, which policies/environments.json cannot bind to an environment: use the project ID, so the pack can check that ${stack ? `stack ${stack}` : "this stack"} deploys into its own environment's project.`,
      );
    const declared = declaredEnvironment(args.props);
    if (byProject && byStack && byProject !== byStack)
      report(`stack ${stack} is ${byStack}, but it deploys into GCP project ${project}, which policies/environments.json binds to ${byProject}.`);
    if (declared && byProject && declared !== byProject)
      report(
        `declared ${declared} (labels or environment input), but its GCP project ${project} is ${byProject} (policies/environments.json): the project decides.`,
      );
    if (declared && byStack && declared !== byStack)
      report(`declared ${declared} (labels or environment input), but stack ${stack} is ${byStack}: the stack's name decides.`);
    if (!project && !byStack && !declared) args.notApplicable("the resource names no project, stack environment or label");
  },
};
