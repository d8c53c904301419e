import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { TRAFFIC_SPLIT_TOKEN, TrafficSplit } from "../../src/release/provider/trafficSplit";
import { startProcess, type Proc } from "./processes";
import { ROOT } from "./stacks";

// The SDK's generated gRPC code (CommonJS, no ESM entry points).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const provproto = require("@pulumi/pulumi/proto/provider_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Empty } = require("google-protobuf/google/protobuf/empty_pb");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const statusproto = require("@pulumi/pulumi/proto/status_pb");

/**
 * Serializes a dynamic resource's provider exactly as the SDK does for the
 * engine: registers the resource under the mock runtime and returns the
 * `__provider` text the SDK put in its inputs.
 */
export async function serializedProvider(
  create: () => pulumi.Resource,
  type: string,
): Promise<{ provider: string; type: string; inputs: Record<string, unknown> }> {
  let captured: { provider: string; type: string; inputs: Record<string, unknown> } | undefined;
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        if (args.type === type) captured = { provider: String(args.inputs.__provider), type: args.type, inputs: args.inputs };
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => {
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    "proving-ground",
    "test",
    false,
  );
  const r = create();
  await new Promise<void>((resolve) => r.urn.apply(() => resolve()));
  if (!captured) throw new Error(`no resource of type ${type} was registered`);
  return captured;
}

/** A minimal Engine service: the host's provider code logs progress through it. */
export async function startFakeEngine(): Promise<{ address: string; logs: string[]; stop(): Promise<void> }> {
  const logs: string[] = [];
  const server = new grpc.Server();
  server.addService(engrpc.EngineService, {
    log: (call: { request: { getMessage(): string } }, cb: (e: null, r: unknown) => void) => {
      logs.push(call.request.getMessage());
      cb(null, new Empty());
    },
    getRootResource: (_c: unknown, cb: (e: { code: number }) => void) => cb({ code: grpc.status.UNIMPLEMENTED }),
    setRootResource: (_c: unknown, cb: (e: { code: number }) => void) => cb({ code: grpc.status.UNIMPLEMENTED }),
    startDebugging: (_c: unknown, cb: (e: { code: number }) => void) => cb({ code: grpc.status.UNIMPLEMENTED }),
    requirePulumiVersion: (_c: unknown, cb: (e: { code: number }) => void) => cb({ code: grpc.status.UNIMPLEMENTED }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, logs, stop: () => new Promise((r) => server.tryShutdown(() => r())) };
}

export interface InitFailure {
  id: string;
  properties: Record<string, unknown>;
  reasons: string[];
}

export class RpcError extends Error {
  constructor(
    message: string,
    readonly initFailure?: InitFailure,
  ) {
    super(message);
  }
}

/** The SDK's dynamic-provider host, started and called over gRPC the way the engine does. */
export class ProviderHost {
  private constructor(
    private readonly proc: Proc,
    private readonly client: InstanceType<typeof provrpc.ResourceProviderClient>,
  ) {}

  static async start(engineAddress: string): Promise<ProviderHost> {
    const proc = await startProcess(process.execPath, [join(ROOT, "node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js"), engineAddress], {
      ready: /^\d+\s*$/m,
      timeoutMs: 20_000,
    });
    const port = /^(\d+)\s*$/m.exec(proc.output())![1];
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new ProviderHost(proc, client);
  }

  output() {
    return this.proc.output();
  }

  private call<T>(method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client[method](req, { deadline: Date.now() + 300_000 }, (err: grpc.ServiceError | null, resp: T) => {
        if (!err) return resolve(resp);
        // ErrorResourceInitFailed travels in grpc-status-details-bin, as the engine decodes it.
        const bin = err.metadata?.get("grpc-status-details-bin")?.[0];
        let init: InitFailure | undefined;
        if (bin) {
          const status = statusproto.Status.deserializeBinary(new Uint8Array(bin as Buffer));
          const any = status.getDetailsList()[0];
          if (any) {
            const detail = provproto.ErrorResourceInitFailed.deserializeBinary(any.getValue_asU8());
            init = { id: detail.getId(), properties: detail.getProperties().toJavaScript(), reasons: detail.getReasonsList() };
          }
        }
        reject(new RpcError(err.details || err.message, init));
      });
    });
  }

  async configure(): Promise<void> {
    const req = new provproto.ConfigureRequest();
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    req.setArgs(Struct.fromJavaScript({}));
    await this.call("configure", req);
  }

  async check(urn: string, olds: object, news: object): Promise<{ inputs: Record<string, unknown>; failures: { property: string; reason: string }[] }> {
    const req = new provproto.CheckRequest();
    req.setUrn(urn);
    req.setOlds(Struct.fromJavaScript(olds));
    req.setNews(Struct.fromJavaScript(news));
    const resp = await this.call<{
      getInputs(): { toJavaScript(): Record<string, unknown> };
      getFailuresList(): { getProperty(): string; getReason(): string }[];
    }>("check", req);
    return { inputs: resp.getInputs().toJavaScript(), failures: resp.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })) };
  }

  async diff(urn: string, id: string, olds: object, news: object): Promise<{ changes: "none" | "some" | "unknown"; replaces: string[] }> {
    const req = new provproto.DiffRequest();
    req.setUrn(urn);
    req.setId(id);
    req.setOlds(Struct.fromJavaScript(olds));
    req.setNews(Struct.fromJavaScript(news));
    const resp = await this.call<{ getChanges(): number; getReplacesList(): string[] }>("diff", req);
    const c = resp.getChanges();
    const D = provproto.DiffResponse.DiffChanges;
    return { changes: c === D.DIFF_NONE ? "none" : c === D.DIFF_SOME ? "some" : "unknown", replaces: resp.getReplacesList() };
  }

  async create(urn: string, props: object): Promise<{ id: string; properties: Record<string, unknown> }> {
    const req = new provproto.CreateRequest();
    req.setUrn(urn);
    req.setProperties(Struct.fromJavaScript(props));
    const resp = await this.call<{ getId(): string; getProperties(): { toJavaScript(): Record<string, unknown> } }>("create", req);
    return { id: resp.getId(), properties: resp.getProperties().toJavaScript() };
  }

  async update(urn: string, id: string, olds: object, news: object): Promise<Record<string, unknown>> {
    const req = new provproto.UpdateRequest();
    req.setUrn(urn);
    req.setId(id);
    req.setOlds(Struct.fromJavaScript(olds));
    req.setNews(Struct.fromJavaScript(news));
    const resp = await this.call<{ getProperties(): { toJavaScript(): Record<string, unknown> } }>("update", req);
    return resp.getProperties().toJavaScript();
  }

  async read(urn: string, id: string, props: object): Promise<Record<string, unknown>> {
    const req = new provproto.ReadRequest();
    req.setUrn(urn);
    req.setId(id);
    req.setProperties(Struct.fromJavaScript(props));
    const resp = await this.call<{ getProperties(): { toJavaScript(): Record<string, unknown> } }>("read", req);
    return resp.getProperties().toJavaScript();
  }

  async delete(urn: string, id: string, props: object): Promise<void> {
    const req = new provproto.DeleteRequest();
    req.setUrn(urn);
    req.setId(id);
    req.setProperties(Struct.fromJavaScript(props));
    await this.call("delete", req);
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.proc.stop();
  }

  /** SIGKILL, as when the machine running `pulumi up` dies: no cleanup runs. */
  async kill(): Promise<void> {
    const exited = new Promise<void>((r) => this.proc.child.once("exit", () => r()));
    this.proc.child.kill("SIGKILL");
    await exited;
    this.client.close();
  }
}

/**
 * The TrafficSplit provider text the SDK serializes, a fake engine for its
 * logs, and the SDK's dynamic-provider host running it, configured: the
 * engine's side of a `pulumi up`, for tests on the proving ground.
 */
export async function hostTrafficSplit(
  name: string,
  release: object,
): Promise<{ providerText: string; engine: Awaited<ReturnType<typeof startFakeEngine>>; host: ProviderHost }> {
  const s = await serializedProvider(
    () =>
      new TrafficSplit(name, {
        target: { kind: "haproxy", runtimeApi: "127.0.0.1:1", backend: "be_app", stateFile: "/dev/null" },
        stable: "blue",
        candidate: "green",
        release: release as never,
        metrics: { url: "http://127.0.0.1:9", preset: "haproxy" },
      }),
    TRAFFIC_SPLIT_TOKEN,
  );
  const engine = await startFakeEngine();
  const host = await ProviderHost.start(engine.address);
  await host.configure();
  return { providerText: s.provider, engine, host };
}
