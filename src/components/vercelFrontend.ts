import * as pulumi from "@pulumi/pulumi";
import * as vercel from "@pulumiverse/vercel";
import type { StackConfig } from "../config/schema";

export interface VercelFrontendArgs {
  environment: StackConfig["environment"];
  frontend: StackConfig["frontend"];
  /** https URL of the WebSocket backend; exposed to the browser as wss://. */
  backendUrl: pulumi.Input<string>;
  firebaseCredentials: pulumi.Input<string>;
  provider: vercel.Provider;
}

/** Secret-like variables target production only, so preview deployments never see them. */
const SECRET_TARGETS = ["production"];
const PUBLIC_TARGETS = ["production", "preview"];

export const toWebSocketUrl = (httpsUrl: string): string => httpsUrl.replace(/^https:\/\//, "wss://").replace(/^http:\/\//, "ws://");

/** The Next.js frontend on Vercel, wired to the backend's URL, with its own domain per environment. */
export class VercelFrontend extends pulumi.ComponentResource {
  readonly project: vercel.Project;
  readonly url: string;

  constructor(name: string, args: VercelFrontendArgs, opts?: pulumi.ComponentResourceOptions) {
    super("delivery:vercel:VercelFrontend", name, {}, { ...opts, providers: { vercel: args.provider } });
    const child = { parent: this };
    const f = args.frontend;
    const team = f.teamId ? { teamId: f.teamId } : {};
    const projectName = args.environment === "production" ? f.projectName : `${f.projectName}-${args.environment}`;

    this.project = new vercel.Project(
      name,
      {
        ...team,
        name: projectName,
        framework: "nextjs",
        ...(f.gitRepository ? { gitRepository: f.gitRepository } : {}),
        ...(f.rootDirectory ? { rootDirectory: f.rootDirectory } : {}),
        // Deployment protection: previews need Vercel login; production stays public on its domain.
        vercelAuthentication: { deploymentType: "standardProtectionNew" },
        gitForkProtection: true,
        // Old clients keep talking to the deployment they loaded during a rolling release.
        skewProtection: "12 hours",
      },
      child,
    );

    new vercel.ProjectEnvironmentVariable(
      `${name}-ws-url`,
      {
        ...team,
        projectId: this.project.id,
        key: "NEXT_PUBLIC_WS_URL",
        value: pulumi.output(args.backendUrl).apply(toWebSocketUrl),
        targets: PUBLIC_TARGETS,
        sensitive: false,
      },
      child,
    );
    new vercel.ProjectEnvironmentVariable(
      `${name}-app-env`,
      { ...team, projectId: this.project.id, key: "NEXT_PUBLIC_APP_ENV", value: args.environment, targets: PUBLIC_TARGETS, sensitive: false },
      child,
    );
    new vercel.ProjectEnvironmentVariable(
      `${name}-firebase`,
      {
        ...team,
        projectId: this.project.id,
        key: "FIREBASE_SERVICE_ACCOUNT",
        value: pulumi.secret(args.firebaseCredentials),
        targets: SECRET_TARGETS,
        sensitive: true,
      },
      child,
    );

    new vercel.ProjectDomain(name, { ...team, projectId: this.project.id, domain: f.domain }, child);
    this.url = `https://${f.domain}`;

    if (f.rollingRelease) {
      new vercel.ProjectRollingRelease(
        name,
        {
          ...team,
          projectId: this.project.id,
          advancementType: f.rollingRelease.advancementType,
          stages: f.rollingRelease.stages.map((s) => ({ targetPercentage: s.targetPercentage, ...(s.durationMinutes ? { duration: s.durationMinutes } : {}) })),
        },
        child,
      );
    }
    this.registerOutputs({ url: this.url });
  }
}
