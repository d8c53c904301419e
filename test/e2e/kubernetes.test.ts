import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { restrictedViolations } from "../../policies/podSecurity";
import { CHECKPOINT_ANNOTATION } from "../../src/release/checkpoint";
import { runRollout, type RolloutDeps } from "../../src/release/driver";
import { HttpRouteRouter } from "../../src/release/routers/httpRoute";
import { MetricsUnavailable, type MetricsSource } from "../../src/release/metrics/source";
import type { CheckpointWrite } from "../../src/release/routers/router";
import { shareOf } from "../../src/release/split";
import { FakeClock, SyntheticMetrics } from "../support/fakes";
import { LocalCluster } from "../support/kubernetes";
import { PulumiCli } from "../support/pulumiCli";
import { specFor } from "../support/specs";
import { HEALTHY, type ArmModel } from "../support/synthetic";
import { ROOT } from "../support/stacks";

/**
 * The Kubernetes half on a real control plane (kube-apiserver, controller-
 * manager, scheduler, etcd; kwok's fake nodes), the real Pulumi CLI and the
 * real Kubernetes provider, all built from Go modules
 * (scripts/ensure-kubernetes.sh, scripts/ensure-pulumi-cli.sh): the dev
 * stack's config with cluster.mode existing, deployed by
 * test/e2e/k8s-project (src/program.ts declareKubernetes).
 */
const PROJECT = "progressive-delivery";
const NAMESPACE = "agents-dev";
let cluster: LocalCluster;
let cli: PulumiCli;

type K8sApis = Awaited<ReturnType<LocalCluster["client"]>>;
let api: K8sApis;
const route = async (name: string) =>
  (await api.kc
    .makeApiClient(api.k8s.CustomObjectsApi)
    .getNamespacedCustomObject({ group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes", namespace: NAMESPACE, name })) as {
    metadata: { annotations?: Record<string, string>; resourceVersion: string };
    spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] };
  };
const patchRoute = (name: string, body: unknown) =>
  api.kc
    .makeApiClient(api.k8s.CustomObjectsApi)
    .patchNamespacedCustomObject(
      { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes", namespace: NAMESPACE, name, body },
      api.k8s.setHeaderOptions("Content-Type", api.k8s.PatchStrategy.MergePatch),
    );
/** Another client's merge patch of the route, run to completion before this returns (blocking: a child process). */
function otherWriter(name: string, body: unknown): void {
  const script = `
    const k8s = await import("@kubernetes/client-node");
    const kc = new k8s.KubeConfig(); kc.loadFromString(process.env.KUBECONFIG_TEXT);
    await kc.makeApiClient(k8s.CustomObjectsApi).patchNamespacedCustomObject(
      { group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes", namespace: ${JSON.stringify(NAMESPACE)}, name: ${JSON.stringify(name)}, body: JSON.parse(process.env.PATCH) },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));`;
  execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, KUBECONFIG_TEXT: cluster.kubeconfig, PATCH: JSON.stringify(body) },
    timeout: 30_000,
    stdio: ["ignore", "ignore", "inherit"],
  });
}
const weights = async (name: string) => Object.fromEntries((await route(name)).spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight ?? 1]));

beforeAll(async () => {
  cluster = await LocalCluster.start();
  api = await cluster.client();
  cli = new PulumiCli(join(ROOT, "test", "e2e", "k8s-project"), `dev-k8s-${process.pid}`, [cluster.tools.bin]);
  await cli.init();
  // The dev stack as committed (its plain keys), on an existing cluster: this one.
  const dev = (parse(readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> }).config;
  const plain = Object.fromEntries(
    Object.entries(dev)
      .filter(([k, v]) => k.startsWith(`${PROJECT}:`) && !(typeof v === "object" && v !== null && "secure" in v))
      .map(([k, v]) => [k.slice(PROJECT.length + 1), v]),
  );
  await cli.setSecret(PROJECT, "vercelApiToken", "vercel-token-for-tests");
  await cli.setSecret(PROJECT, "firebaseCredentials", "{}");
  await cli.setSecret(PROJECT, "kubeconfig", cluster.kubeconfig);
  cli.setConfig(PROJECT, {
    ...plain,
    cluster: { mode: "existing", gatewaySourceCidrs: ["10.0.0.0/24"] },
    workloads: { ...(plain["workloads"] as object), gatewayClassName: "test-gateway-class" },
  });
}, 45 * 60_000);

afterAll(async () => {
  cli?.remove();
  await cluster?.stop();
});

describe("the stacks' Kubernetes half on a real API server (cluster.mode existing)", () => {
  it("pulumi up creates every Kubernetes object; the Deployments reach their replicas; a second preview has no changes", async () => {
    const up = await cli.ok(["up", "--yes", "--skip-preview"], 300_000);
    expect(up).toMatch(/\+ .*kubernetes:core\/v1:Namespace .*created/);
    // The SDK (4.34.2) with the provider built here (4.25.0): the CLI says so, and everything below still holds.
    expect(up).toContain("resource plugin kubernetes is expected to have version >=4.34.2, but has 4.25.0");
    const state = JSON.parse(await cli.ok(["stack", "export"])) as { deployment: { resources: { type: string }[] } };
    const kinds = new Set(state.deployment.resources.map((r) => r.type).filter((t) => t.startsWith("kubernetes:")));
    for (const kind of [
      "kubernetes:core/v1:Namespace",
      "kubernetes:apps/v1:Deployment",
      "kubernetes:core/v1:Service",
      "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy",
      "kubernetes:gateway.networking.k8s.io/v1:Gateway",
      "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
    ]) {
      expect(kinds, kind).toContain(kind);
    }
    // Real objects, and the scheduler and kwok's nodes bring the pods up: every Deployment is fully ready.
    const apps = api.kc.makeApiClient(api.k8s.AppsV1Api);
    const until = Date.now() + 90_000;
    let deployments = (await apps.listNamespacedDeployment({ namespace: NAMESPACE })).items;
    while (Date.now() < until && !deployments.every((d) => (d.status?.readyReplicas ?? 0) === d.spec?.replicas)) {
      await new Promise((r) => setTimeout(r, 1000));
      deployments = (await apps.listNamespacedDeployment({ namespace: NAMESPACE })).items;
    }
    expect(deployments.map((d) => d.metadata?.name).sort()).toEqual(["memory-blue", "orchestrator-blue"]);
    expect(deployments.map((d) => [d.metadata?.name, d.status?.readyReplicas])).toEqual(deployments.map((d) => [d.metadata?.name, d.spec?.replicas]));
    const again = await cli.run(["preview", "--expect-no-changes"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  }, 420_000);

  it("the namespace enforces Pod Security restricted through the API server's own admission: a non-compliant pod is refused with the upstream reasons, which the pack's policy gives too", async () => {
    const ns = await api.kc.makeApiClient(api.k8s.CoreV1Api).readNamespace({ name: NAMESPACE });
    expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const pod = {
      metadata: { name: "intruder", namespace: NAMESPACE },
      spec: { hostNetwork: true, containers: [{ name: "c", image: "busybox:1.36", securityContext: { privileged: true } }] },
    };
    const refused = await api.kc
      .makeApiClient(api.k8s.CoreV1Api)
      .createNamespacedPod({ namespace: NAMESPACE, body: pod })
      .then(
        () => undefined,
        (e: { code?: number; body?: string }) => e,
      );
    expect(refused?.code).toBe(403);
    const message = (JSON.parse(refused!.body!) as { message: string }).message;
    expect(message).toMatch(/violates PodSecurity "restricted:latest": /);
    // The same controls from the pack's policy (the API server is a second oracle for it).
    const upstream = message
      .replace(/^.*violates PodSecurity "restricted:latest": /, "")
      .split(/, (?=[a-zA-Z][^,(]* \()|, (?=[a-z]+(?:[A-Z][a-z]+)*[!=]= )/)
      .map((r) => r.split(" (")[0]!.trim());
    const ours = restrictedViolations({ path: "spec", metadata: pod.metadata, spec: pod.spec }).map((r) => r.split(" (")[0]!);
    expect([...new Set(ours)].sort()).toEqual([...new Set(upstream)].sort());
  });
});

describe("HTTPRoute releases through the real API server", () => {
  const ROUTE = "orchestrator";
  // The context named explicitly, as cluster.context passes it through to the release.
  const router = () =>
    new HttpRouteRouter({
      namespace: NAMESPACE,
      name: ROUTE,
      ruleIndex: 0,
      stableBackend: "orchestrator-blue",
      candidateBackend: "orchestrator-green",
      kubeconfig: cluster.kubeconfig,
      context: (parse(cluster.kubeconfig) as { "current-context": string })["current-context"],
    });
  const accept = (text: string): CheckpointWrite => ({ text, guard: () => undefined });

  it("weights read back after each move, the checkpoint sits on the route, a concurrent writer's change (409) is re-read and re-checked, a rollback puts it back on stable", async () => {
    const r = router();
    await r.prepare(accept('{"step":0}'));
    await r.setWeight(25, accept('{"step":1}'));
    expect(await weights(ROUTE)).toEqual({ "orchestrator-blue": 75, "orchestrator-green": 25 });
    expect(shareOf(await r.readSplit(), "orchestrator-green")).toBe(25);
    expect((await route(ROUTE)).metadata.annotations?.[CHECKPOINT_ANNOTATION]).toBe('{"step":1}');
    // Someone else writes between the router's read and its write: the API server answers 409 on the stale
    // resourceVersion, and the router reads again and asks the guard again before writing.
    // (The other writer runs to completion inside the guard, in a child process: the guard is synchronous.)
    let guarded = 0;
    await r.setWeight(50, {
      text: '{"step":2}',
      guard: () => {
        if (++guarded === 1) otherWriter(ROUTE, { metadata: { annotations: { "example.com/touched": "yes" } } });
      },
    });
    expect(guarded).toBe(2);
    expect(await weights(ROUTE)).toEqual({ "orchestrator-blue": 50, "orchestrator-green": 50 });
    expect((await route(ROUTE)).metadata.annotations).toMatchObject({ [CHECKPOINT_ANNOTATION]: '{"step":2}', "example.com/touched": "yes" });
    await r.rollback(accept('{"phase":"rolled-back"}'), { mode: "immediate" });
    expect(await weights(ROUTE)).toEqual({ "orchestrator-blue": 100, "orchestrator-green": 0 });
  });

  /**
   * A whole blue-green release through the driver on the real route: the real router and API server,
   * synthetic traffic judged on a fake clock (the Gateway has no data plane here; the traffic model follows
   * the weights the router last wrote), every gate passing.
   */
  async function release(candidateModel: ArmModel, releaseKey: string, o: { interfere?: boolean } = {}) {
    await patchRoute(ROUTE, { metadata: { annotations: { [CHECKPOINT_ANNOTATION]: null } } });
    const real = router();
    const arms = { stable: "orchestrator-blue", candidate: "orchestrator-green", weight: 0 };
    let interfered = 0;
    // With `interfere`, another client (a controller writing its own label) changes the route between the router's
    // read and its write on every checkpoint write: the API server answers 409 and the router reads and writes again.
    const meddle = (w: CheckpointWrite): CheckpointWrite => {
      let first = true;
      return {
        text: w.text,
        guard: (current, live) => {
          w.guard(current, live);
          if (first) {
            first = false;
            interfered++;
            otherWriter(ROUTE, { metadata: { labels: { "example.com/reconciled": String(interfered) } } });
          }
        },
      };
    };
    const observed = new Proxy(real, {
      get: (target, key) => {
        const v = Reflect.get(target, key) as unknown;
        if (typeof v !== "function") return v;
        return async (...args: unknown[]) => {
          if (o.interfere && ["prepare", "setWeight", "rollback", "saveCheckpoint"].includes(String(key)))
            args = args.map((a) => (typeof a === "object" && a !== null && "guard" in a ? meddle(a as CheckpointWrite) : a));
          const out = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (key === "setWeight") arms.weight = args[0] as number;
          if (key === "rollback") arms.weight = 0;
          return out;
        };
      },
    });
    const clock = new FakeClock();
    const spec = specFor(
      "staging",
      {
        strategy: "blue-green",
        switch: { mode: "gradual", steps: [50, 100] },
        bakeSeconds: 30,
        analysis: { stepCriteria: { "0": { errorRate: 0.02, p95LatencyMs: 1000 } } },
      },
      { maxStepSeconds: 600 },
    );
    const deps: RolloutDeps = {
      router: observed,
      metrics: new SyntheticMetrics(arms as never, candidateModel, 200),
      clock,
      runGate: async () => ({ passed: true, detail: "ok" }),
      log: () => undefined,
    };
    const result = await runRollout({ spec, stable: arms.stable, candidate: arms.candidate, releaseKey, intervalMs: 10_000, deadlineMs: 3_600_000 }, deps);
    return { result, interfered };
  }

  it("a blue-green release of the slot through the real API: healthy, it is promoted and the route carries the candidate; failing, the route is back on stable", async () => {
    const good = await release(HEALTHY, "orchestrator-blue->orchestrator-green#good");
    expect(good.result.phase).toBe("promoted");
    expect(await weights(ROUTE)).toEqual({ "orchestrator-blue": 0, "orchestrator-green": 100 });
    expect(JSON.parse((await route(ROUTE)).metadata.annotations![CHECKPOINT_ANNOTATION]!)).toMatchObject({ state: { phase: "promoted" } });
    // Back to blue by hand for the next release, as flipping activeSlot and redeploying would.
    await patchRoute(ROUTE, {
      spec: {
        rules: (await route(ROUTE)).spec.rules.map((rule, i) =>
          i === 0 ? { ...rule, backendRefs: rule.backendRefs.map((b) => ({ ...b, weight: b.name === "orchestrator-blue" ? 100 : 0 })) } : rule,
        ),
      },
    });
    const bad = await release({ ...HEALTHY, errorRate: 0.2 }, "orchestrator-blue->orchestrator-green#bad");
    expect(bad.result.phase).toBe("rolled-back");
    expect(await weights(ROUTE)).toEqual({ "orchestrator-blue": 100, "orchestrator-green": 0 });
    expect(JSON.parse((await route(ROUTE)).metadata.annotations![CHECKPOINT_ANNOTATION]!)).toMatchObject({ state: { phase: "rolled-back" } });
  });

  it("another client writing the route during a release (a 409 on every checkpoint write) is not a takeover: healthy, promoted; failing, back on stable", async () => {
    const toBlue = async () =>
      patchRoute(ROUTE, {
        spec: {
          rules: (await route(ROUTE)).spec.rules.map((rule, i) =>
            i === 0 ? { ...rule, backendRefs: rule.backendRefs.map((b) => ({ ...b, weight: b.name === "orchestrator-blue" ? 100 : 0 })) } : rule,
          ),
        },
      });
    await toBlue();
    const good = await release(HEALTHY, "orchestrator-blue->orchestrator-green#busy-good", { interfere: true });
    expect(good.result.phase, good.result.message).toBe("promoted");
    expect(good.interfered).toBeGreaterThan(2);
    expect(await weights(ROUTE)).toEqual({ "orchestrator-blue": 0, "orchestrator-green": 100 });
    await toBlue();
    const bad = await release({ ...HEALTHY, errorRate: 0.2 }, "orchestrator-blue->orchestrator-green#busy-bad", { interfere: true });
    expect(bad.result.phase, bad.result.message).toBe("rolled-back");
    expect(await weights(ROUTE)).toEqual({ "orchestrator-blue": 100, "orchestrator-green": 0 });
    expect(JSON.parse((await route(ROUTE)).metadata.annotations![CHECKPOINT_ANNOTATION]!)).toMatchObject({ state: { phase: "rolled-back" } });
  });

  it("the drift lock: weights changed by another client before a release moves anything stop it, and nothing is moved", async () => {
    // A person splits 50/50 by hand (and the earlier test's checkpoint is gone: this is a new release).
    await patchRoute(ROUTE, {
      metadata: { annotations: { [CHECKPOINT_ANNOTATION]: null } },
      spec: {
        rules: (await route(ROUTE)).spec.rules.map((rule, i) =>
          i === 0 ? { ...rule, backendRefs: rule.backendRefs.map((b) => ({ ...b, weight: 50 })) } : rule,
        ),
      },
    });
    const before = await route(ROUTE);
    const spec = specFor("staging", { strategy: "canary", steps: [25, 100], bakeSeconds: 1, maxStepSeconds: 60 });
    const deps: RolloutDeps = {
      router: router(),
      // No metrics here (reading them moves nothing; the refusal must come from the live split alone).
      metrics: {
        description: "none",
        read: async () => Promise.reject(new MetricsUnavailable("no metrics in this test")),
        readArm: async () => Promise.reject(new MetricsUnavailable("no metrics in this test")),
      } satisfies MetricsSource,
      runGate: async () => ({ passed: true, detail: "ok" }),
      log: () => undefined,
    };
    const result = await runRollout(
      {
        spec,
        stable: "orchestrator-blue",
        candidate: "orchestrator-green",
        releaseKey: "orchestrator-blue->orchestrator-green#drift",
        intervalMs: 1000,
        deadlineMs: 30_000,
      },
      deps,
    );
    expect(result.phase).toBe("interrupted");
    expect(result.message).toMatch(/live orchestrator-blue 50%, orchestrator-green 50%; expected orchestrator-blue 100%, orchestrator-green 0%/);
    // Nothing written: not the weights, not even a checkpoint.
    const after = await route(ROUTE);
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it("pulumi destroy removes every object it created", async () => {
    await cli.ok(["destroy", "--yes", "--skip-preview"], 300_000);
    const state = JSON.parse(await cli.ok(["stack", "export"])) as { deployment: { resources?: unknown[] } };
    expect(state.deployment.resources ?? []).toEqual([]);
    const until = Date.now() + 60_000;
    let gone = false;
    while (!gone && Date.now() < until) {
      gone = await api.kc
        .makeApiClient(api.k8s.CoreV1Api)
        .readNamespace({ name: NAMESPACE })
        .then(
          () => false,
          (e: { code?: number }) => e.code === 404,
        );
      if (!gone) await new Promise((r) => setTimeout(r, 1000));
    }
    // A namespace's deletion finishes when its objects are gone (the namespace controller); kwok's pods go with it.
    expect(gone).toBe(true);
  }, 420_000);
});
