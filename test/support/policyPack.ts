import { AnalyzerSession, type AnalyzeResult, type AnalyzedResource, type Diagnostic, type PolicyConfigEntry } from "../../src/policy/analyzer";
import { reconcilePolicyConfig } from "../../src/policy/packConfig";
import { startPack, type RunningPack } from "../../src/policy/packProcess";
import { TRAFFIC_SPLIT_TOKEN } from "../../src/release/provider/token";

/**
 * The real policy pack process, called over the analyzer protocol the way
 * the Pulumi CLI calls it. One pack per test file (starting one takes a
 * few seconds); each check configures it afresh.
 */
export class PackUnderTest {
  private constructor(
    private readonly pack: RunningPack,
    readonly session: AnalyzerSession,
  ) {}

  static async start(): Promise<PackUnderTest> {
    const pack = await startPack();
    return new PackUnderTest(pack, new AnalyzerSession(pack.address));
  }

  /** Reconciles `config` as the CLI would (defaults, "all", per policy), refusing invalid config, then configures the pack. */
  async configure(config: Record<string, PolicyConfigEntry> = {}): Promise<void> {
    const info = await this.session.info();
    const { config: reconciled, errors } = reconcilePolicyConfig(info, config);
    if (errors.length) throw new Error(errors.join("\n"));
    await this.session.configure(reconciled);
  }

  /** Analyze one resource (its inputs) with the pack's defaults or the given config. */
  async analyze(type: string, properties: Record<string, unknown>, config?: Record<string, PolicyConfigEntry>): Promise<AnalyzeResult> {
    await this.configure(config);
    return this.session.analyze(resource(type, properties));
  }

  /** Analyze one resource as given (its own URN, e.g. naming a stack), with the pack's defaults or the given config. */
  async analyzeResource(r: AnalyzedResource, config?: Record<string, PolicyConfigEntry>): Promise<AnalyzeResult> {
    await this.configure(config);
    return this.session.analyze(r);
  }

  async analyzeStack(resources: AnalyzedResource[], config?: Record<string, PolicyConfigEntry>): Promise<AnalyzeResult> {
    await this.configure(config);
    return this.session.analyzeStack(resources);
  }

  async stop(): Promise<void> {
    this.session.close();
    await this.pack.stop();
  }
}

let counter = 0;
/** A resource as the engine describes it; the name and URN are made up from the type. */
export function resource(type: string, properties: Record<string, unknown>, extra: Partial<AnalyzedResource> = {}): AnalyzedResource {
  const name = extra.name ?? `r${++counter}`;
  return { urn: `urn:pulumi:test::progressive-delivery::${type}::${name}`, type, name, properties, ...extra };
}

/** The violations of one policy. */
export const of = (result: AnalyzeResult, policy: string): Diagnostic[] => result.diagnostics.filter((d) => d.policyName === policy);

export const TYPES = {
  runService: "gcp:cloudrunv2/service:Service",
  runIamMember: "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
  runIamBinding: "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
  cluster: "gcp:container/cluster:Cluster",
  nodePool: "gcp:container/nodePool:NodePool",
  pod: "kubernetes:core/v1:Pod",
  deployment: "kubernetes:apps/v1:Deployment",
  statefulSet: "kubernetes:apps/v1:StatefulSet",
  daemonSet: "kubernetes:apps/v1:DaemonSet",
  replicaSet: "kubernetes:apps/v1:ReplicaSet",
  job: "kubernetes:batch/v1:Job",
  cronJob: "kubernetes:batch/v1:CronJob",
  namespace: "kubernetes:core/v1:Namespace",
  networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
  hpa: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
  vercelProject: "vercel:index/project:Project",
  vercelEnv: "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
  vercelEnvs: "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables",
  vercelShared: "vercel:index/sharedEnvironmentVariable:SharedEnvironmentVariable",
  trafficSplit: TRAFFIC_SPLIT_TOKEN,
  secret: "gcp:secretmanager/secret:Secret",
  network: "gcp:compute/network:Network",
} as const;
