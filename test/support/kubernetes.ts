import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { runToEnd } from "./processes";
import { ROOT } from "./stacks";

/** The control plane, kwok and the Kubernetes provider built by scripts/ensure-kubernetes.sh (cached after the first run). */
export function kubernetesTools(): { bin: string; crds: string } {
  const dir = execFileSync("bash", [join(ROOT, "scripts", "ensure-kubernetes.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 45 * 60_000,
  })
    .trim()
    .split("\n")
    .at(-1)!;
  return { bin: join(dir, "bin"), crds: join(dir, "crds", "gateway-api-standard.yaml") };
}

type K8s = typeof import("@kubernetes/client-node");

/**
 * A real Kubernetes control plane on loopback for one test file: etcd,
 * kube-apiserver (with its own Pod Security admission), controller-manager
 * and scheduler, run by kwokctl from local binaries, with fake nodes kwok
 * plays the kubelet for (pods are scheduled and reported Ready; nothing
 * runs), the Gateway API CRDs installed. `stop()` ends every process and
 * removes the cluster's directory.
 */
export class LocalCluster {
  private constructor(
    readonly name: string,
    readonly kubeconfig: string,
    readonly tools: { bin: string; crds: string },
    private readonly workdir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async start(nodes = 2): Promise<LocalCluster> {
    const tools = kubernetesTools();
    const workdir = mkdtempSync(join(tmpdir(), "kwok-"));
    const name = `pd${process.pid}`;
    const env = { ...process.env, KWOK_WORKDIR: workdir, PATH: `${tools.bin}:${process.env["PATH"] ?? ""}` };
    const bin = (b: string) => join(tools.bin, b);
    const created = await runToEnd(
      bin("kwokctl"),
      [
        "create",
        "cluster",
        "--name",
        name,
        "--runtime",
        "binary",
        "--wait",
        "60s",
        "--etcd-binary",
        bin("etcd"),
        "--kube-apiserver-binary",
        bin("kube-apiserver"),
        "--kube-controller-manager-binary",
        bin("kube-controller-manager"),
        "--kube-scheduler-binary",
        bin("kube-scheduler"),
        "--kwok-controller-binary",
        bin("kwok"),
      ],
      { cwd: workdir, env, timeoutMs: 180_000 },
    );
    const cluster = new LocalCluster(name, "", tools, workdir, env);
    if (created.code !== 0) {
      await cluster.stop();
      throw new Error(`kwokctl create cluster exited ${created.code}:\n${created.stdout.slice(-3000)}\n${created.stderr.slice(-3000)}`);
    }
    const ready = new LocalCluster(name, readFileSync(join(workdir, "clusters", name, "kubeconfig.yaml"), "utf8"), tools, workdir, env);
    try {
      await ready.addNodes(nodes);
      await ready.installCrds();
    } catch (e) {
      await ready.stop();
      throw e;
    }
    return ready;
  }

  async client(): Promise<{ k8s: K8s; kc: InstanceType<K8s["KubeConfig"]> }> {
    const k8s = (await import("@kubernetes/client-node")) as K8s;
    const kc = new k8s.KubeConfig();
    kc.loadFromString(this.kubeconfig);
    return { k8s, kc };
  }

  /** Nodes kwok takes over (annotation kwok.x-k8s.io/node: fake): the scheduler places pods there and kwok reports them Ready. */
  private async addNodes(count: number): Promise<void> {
    const { k8s, kc } = await this.client();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    for (let i = 0; i < count; i++) {
      await core.createNode({
        body: {
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name: `kwok-node-${i}`,
            annotations: { "node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake" },
            labels: { "kubernetes.io/hostname": `kwok-node-${i}`, "kubernetes.io/os": "linux", type: "kwok" },
          },
          status: { allocatable: { cpu: "32", memory: "128Gi", pods: "110" }, capacity: { cpu: "32", memory: "128Gi", pods: "110" } },
        },
      });
    }
  }

  /** The Gateway API's standard-channel CRDs (HTTPRoute, Gateway, ...), established before anything uses them. */
  private async installCrds(): Promise<void> {
    const { k8s, kc } = await this.client();
    const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
    const docs = parseAllDocuments(readFileSync(this.tools.crds, "utf8")).map((d) => d.toJS() as { kind?: string; metadata: { name: string } } | null);
    const crds = docs.filter((d): d is { kind: string; metadata: { name: string } } => d?.kind === "CustomResourceDefinition");
    for (const crd of crds) await ext.createCustomResourceDefinition({ body: crd as never });
    const until = Date.now() + 60_000;
    for (const crd of crds) {
      for (;;) {
        const got = await ext.readCustomResourceDefinition({ name: crd.metadata.name });
        if (got.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
        if (Date.now() > until) throw new Error(`CRD ${crd.metadata.name} not established within 60 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    await runToEnd(join(this.tools.bin, "kwokctl"), ["delete", "cluster", "--name", this.name], { cwd: this.workdir, env: this.env, timeoutMs: 60_000 }).catch(
      () => undefined,
    );
    rmSync(this.workdir, { recursive: true, force: true });
  }
}
