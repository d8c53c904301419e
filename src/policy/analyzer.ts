import * as grpc from "@grpc/grpc-js";
import * as analyzerGrpc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzerPb from "@pulumi/pulumi/proto/analyzer_pb";
import { specialSecretSig, specialSigKey, unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";

/**
 * The engine's side of the analyzer protocol: the calls `pulumi preview
 * --policy-pack` makes on a policy pack (GetAnalyzerInfo, Configure,
 * ConfigureStack, Analyze per resource, AnalyzeStack at the end), with
 * properties encoded the way the engine encodes them.
 */

export type EnforcementLevel = "advisory" | "mandatory" | "disabled" | "remediate";
const LEVEL_CODES: Record<EnforcementLevel, analyzerPb.EnforcementLevel> = {
  advisory: analyzerPb.EnforcementLevel.ADVISORY,
  mandatory: analyzerPb.EnforcementLevel.MANDATORY,
  disabled: analyzerPb.EnforcementLevel.DISABLED,
  remediate: analyzerPb.EnforcementLevel.REMEDIATE,
};
const LEVELS = Object.fromEntries(Object.entries(LEVEL_CODES).map(([level, code]) => [code, level])) as Record<number, EnforcementLevel>;

export interface PolicyInfo {
  name: string;
  description: string;
  enforcementLevel: EnforcementLevel;
  severity: number;
  configSchema?: { properties: Record<string, unknown>; required: string[] };
}

export interface PackInfo {
  name: string;
  version: string;
  policies: PolicyInfo[];
}

export interface Diagnostic {
  policyName: string;
  policyPackName: string;
  policyPackVersion: string;
  description: string;
  /** As the pack sends it: the policy's description, then what this resource did. */
  message: string;
  /** The message without the description in front: what to show beside the policy's name. */
  detail: string;
  enforcementLevel: EnforcementLevel;
  /** The resource the violation is about (stack policies name it; resource policies leave it to the caller). */
  urn: string;
}

export interface AnalyzeResult {
  diagnostics: Diagnostic[];
  notApplicable: { policyName: string; reason: string }[];
}

/** One resource as the engine hands it to a pack. */
export interface AnalyzedResource {
  urn: string;
  type: string;
  name: string;
  /** Inputs for Analyze, outputs for AnalyzeStack. Use UNKNOWN and secret() as the engine would. */
  properties: Record<string, unknown>;
  parent?: string;
  dependencies?: string[];
  propertyDependencies?: Record<string, string[]>;
}

/** A value not known until the update (what the engine sends during preview for computed values). */
export const UNKNOWN = unknownValue;
/** A secret value, wrapped as the engine serializes secrets. */
export const secret = (value: unknown) => ({ [specialSigKey]: specialSecretSig, value });

export interface PolicyConfigEntry {
  enforcementLevel?: EnforcementLevel;
  properties?: Record<string, unknown>;
}

export class AnalyzerSession {
  private readonly client: analyzerGrpc.AnalyzerClient;

  constructor(readonly address: string) {
    this.client = new analyzerGrpc.AnalyzerClient(address, grpc.credentials.createInsecure(), { "grpc.max_receive_message_length": 400 * 1024 * 1024 });
  }

  private call<Req, Res>(method: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, req, (err, res) => (err ? reject(new Error(`policy pack ${err.details || err.message}`)) : resolve(res)));
    });
  }

  async info(): Promise<PackInfo> {
    const res = await this.call<Empty, analyzerPb.AnalyzerInfo>(this.client.getAnalyzerInfo.bind(this.client), new Empty());
    return {
      name: res.getName(),
      version: res.getVersion(),
      policies: res.getPoliciesList().map((p) => {
        const schema = p.getConfigschema();
        return {
          name: p.getName(),
          description: p.getDescription(),
          enforcementLevel: LEVELS[p.getEnforcementlevel()]!,
          severity: p.getSeverity(),
          ...(schema ? { configSchema: { properties: schema.getProperties()?.toJavaScript() ?? {}, required: schema.getRequiredList() } } : {}),
        };
      }),
    };
  }

  /** Sends the reconciled per-policy config (level and properties), as the engine does after validating it. */
  async configure(config: Record<string, PolicyConfigEntry>): Promise<void> {
    const req = new analyzerPb.ConfigureAnalyzerRequest();
    for (const [name, entry] of Object.entries(config)) {
      const pc = new analyzerPb.PolicyConfig();
      if (entry.enforcementLevel) pc.setEnforcementlevel(LEVEL_CODES[entry.enforcementLevel]);
      pc.setProperties(Struct.fromJavaScript((entry.properties ?? {}) as never));
      req.getPolicyconfigMap().set(name, pc);
    }
    await this.call(this.client.configure.bind(this.client), req);
  }

  async configureStack(stack: { stack: string; project: string; organization?: string; dryRun: boolean; tags?: Record<string, string> }): Promise<void> {
    const req = new analyzerPb.AnalyzerStackConfigureRequest();
    req
      .setStack(stack.stack)
      .setProject(stack.project)
      .setOrganization(stack.organization ?? "organization")
      .setDryRun(stack.dryRun);
    for (const [k, v] of Object.entries(stack.tags ?? {})) req.getTagsMap().set(k, v);
    await this.call(this.client.configureStack.bind(this.client), req);
  }

  async analyze(r: AnalyzedResource): Promise<AnalyzeResult> {
    return this.send(analyzeRequest(r));
  }

  async analyzeStack(resources: AnalyzedResource[]): Promise<AnalyzeResult> {
    return this.sendStack(analyzeStackRequest(resources));
  }

  /** A request built beforehand (the policy benchmark times the pack, not this client's serialization). */
  async send(req: analyzerPb.AnalyzeRequest): Promise<AnalyzeResult> {
    return this.result(await this.call(this.client.analyze.bind(this.client), req), req.getUrn());
  }

  async sendStack(req: analyzerPb.AnalyzeStackRequest): Promise<AnalyzeResult> {
    return this.result(await this.call(this.client.analyzeStack.bind(this.client), req), "");
  }

  private result(res: analyzerPb.AnalyzeResponse, urn: string): AnalyzeResult {
    return {
      diagnostics: res.getDiagnosticsList().map((d) => {
        const description = d.getDescription();
        const message = d.getMessage();
        return {
          policyName: d.getPolicyname(),
          policyPackName: d.getPolicypackname(),
          policyPackVersion: d.getPolicypackversion(),
          description,
          message,
          detail: message.startsWith(description) ? message.slice(description.length).trim() : message,
          enforcementLevel: LEVELS[d.getEnforcementlevel()]!,
          urn: d.getUrn() || urn,
        };
      }),
      notApplicable: res.getNotApplicableList().map((n) => ({ policyName: n.getPolicyName(), reason: n.getReason() })),
    };
  }

  close(): void {
    this.client.close();
  }
}

/** The engine's Analyze request for one resource (its inputs). */
export function analyzeRequest(r: AnalyzedResource): analyzerPb.AnalyzeRequest {
  const req = new analyzerPb.AnalyzeRequest();
  req
    .setUrn(r.urn)
    .setType(r.type)
    .setName(r.name)
    .setProperties(Struct.fromJavaScript(r.properties as never));
  const opts = new analyzerPb.AnalyzerResourceOptions();
  if (r.parent) opts.setParent(r.parent);
  req.setOptions(opts);
  return req;
}

/** The engine's AnalyzeStack request: every resource (its outputs) with its dependencies. */
export function analyzeStackRequest(resources: AnalyzedResource[]): analyzerPb.AnalyzeStackRequest {
  const req = new analyzerPb.AnalyzeStackRequest();
  req.setResourcesList(
    resources.map((r) => {
      const ar = new analyzerPb.AnalyzerResource();
      ar.setUrn(r.urn)
        .setType(r.type)
        .setName(r.name)
        .setProperties(Struct.fromJavaScript(r.properties as never));
      if (r.parent) ar.setParent(r.parent);
      ar.setDependenciesList(r.dependencies ?? []);
      for (const [prop, urns] of Object.entries(r.propertyDependencies ?? {})) {
        const deps = new analyzerPb.AnalyzerPropertyDependencies();
        deps.setUrnsList(urns);
        ar.getPropertydependenciesMap().set(prop, deps);
      }
      const opts = new analyzerPb.AnalyzerResourceOptions();
      if (r.parent) opts.setParent(r.parent);
      ar.setOptions(opts);
      return ar;
    }),
  );
  return req;
}
