import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { restrictedViolations } from "../../policies/podSecurity";
import type { PodMeta, PodSpec } from "../../policies/lib/podSpec";
import { goTool } from "../support/goTools";

/**
 * Differential test: the pack's Pod Security verdicts against the upstream
 * admission library (k8s.io/pod-security-admission, built from its Go
 * module into test/psa-oracle), on pods generated from every field the
 * restricted profile reads.
 */
let oracle: string;
beforeAll(() => {
  oracle = goTool("psa-oracle");
}, 300_000);

const opt = <T>(...values: T[]) => fc.option(fc.constantFrom(...values), { nil: undefined });
// "typeless": a profile object without a type (upstream judges it by the empty type).
const seccomp = opt("RuntimeDefault", "Localhost", "Unconfined", "typeless").map((type) =>
  type === "typeless" ? {} : type ? { type, ...(type === "Localhost" ? { localhostProfile: "p.json" } : {}) } : undefined,
);
const appArmor = opt("RuntimeDefault", "Localhost", "Unconfined", "typeless").map((type) =>
  type === "typeless" ? { localhostProfile: "p" } : type ? { type, ...(type === "Localhost" ? { localhostProfile: "p" } : {}) } : undefined,
);
const seLinux = opt(
  { type: "container_t" },
  { type: "container_init_t" },
  { type: "container_engine_t" },
  { type: "spc_t" },
  { user: "system_u" },
  { role: "sysadm_r" },
  { level: "s0:c1" },
);

const containerSc = fc.record(
  {
    privileged: opt(true, false),
    allowPrivilegeEscalation: opt(true, false),
    runAsNonRoot: opt(true, false),
    runAsUser: opt(0, 1000),
    capabilities: fc.record(
      {
        drop: opt(["ALL"], ["NET_RAW"], ["all"], ["ALL", "NET_RAW"]),
        add: opt(["NET_BIND_SERVICE"], ["CHOWN"], ["SYS_ADMIN"], ["NET_BIND_SERVICE", "KILL"], ["AUDIT_WRITE"], ["SYS_TIME", "NET_ADMIN"]),
      },
      { requiredKeys: [] },
    ),
    seccompProfile: seccomp,
    appArmorProfile: appArmor,
    seLinuxOptions: seLinux,
    procMount: opt("Default", "Unmasked"),
    windowsOptions: opt({ hostProcess: true }, { hostProcess: false }),
    readOnlyRootFilesystem: opt(true),
  },
  { requiredKeys: [] },
);
/** Probe and lifecycle handlers, with and without a host (the hostProbesAndHostLifecycle check). */
const probe = opt(
  { httpGet: { port: 8080, host: "10.0.0.1" } },
  { tcpSocket: { port: 8080, host: "metadata.google.internal" } },
  { httpGet: { port: 8080 } },
  { httpGet: { port: 8080, host: "" } },
  { exec: { command: ["true"] } },
);
const lifecycle = opt(
  { postStart: { httpGet: { port: 80, host: "10.0.0.2" } } },
  { preStop: { tcpSocket: { port: 80, host: "peer" } } },
  { preStop: { exec: { command: ["true"] } } },
  { postStart: { httpGet: { port: 80 } }, preStop: { httpGet: { port: 80, host: "x" } } },
);
const container = (name: string) =>
  fc
    .record({
      securityContext: fc.option(containerSc, { nil: undefined }),
      hostPort: opt(0, 8080),
      livenessProbe: probe,
      readinessProbe: probe,
      startupProbe: probe,
      lifecycle,
    })
    .map(({ securityContext, hostPort, ...handlers }) => ({
      name,
      image: "registry.example/app:1.0",
      ...(hostPort !== undefined ? { ports: [{ containerPort: 8080, hostPort }] } : {}),
      ...(securityContext ? { securityContext: strip(securityContext) } : {}),
      ...strip(handlers),
    }));

const VOLUMES: Record<string, Record<string, unknown>> = {
  emptyDir: { emptyDir: {} },
  configMap: { configMap: { name: "c" } },
  secret: { secret: { secretName: "s" } },
  projected: { projected: { sources: [] } },
  pvc: { persistentVolumeClaim: { claimName: "data" } },
  hostPath: { hostPath: { path: "/var/run" } },
  nfs: { nfs: { server: "nfs.example", path: "/x" } },
  gitRepo: { gitRepo: { repository: "https://example/repo.git" } },
  csi: { csi: { driver: "secrets-store.csi.k8s.io" } },
  ephemeral: { ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } } },
  downwardAPI: { downwardAPI: { items: [] } },
  image: { image: { reference: "registry.example/data:1" } },
  iscsi: { iscsi: { targetPortal: "10.0.0.9:3260", iqn: "iqn.2001-04.com.example:storage", lun: 0 } },
  gcePersistentDisk: { gcePersistentDisk: { pdName: "disk" } },
  cephfs: { cephfs: { monitors: ["10.0.0.10:6789"] } },
  noSource: {},
};

const podArb = fc
  .record({
    sc: fc.record(
      {
        runAsNonRoot: opt(true, false),
        runAsUser: opt(0, 1000),
        seccompProfile: seccomp,
        seLinuxOptions: seLinux,
        appArmorProfile: appArmor,
        sysctls: opt(
          [{ name: "net.ipv4.tcp_syncookies", value: "1" }],
          [{ name: "kernel.msgmax", value: "1" }],
          [{ name: "net.ipv4.tcp_keepalive_time", value: "60" }],
          [
            { name: "net.ipv4.tcp_rmem", value: "4096 87380 6291456" },
            { name: "net.ipv4.tcp_wmem", value: "4096 16384 4194304" },
          ],
          [
            { name: "net.ipv4.tcp_notsent_lowat", value: "16384" },
            { name: "net.ipv4.tcp_slow_start_after_idle", value: "0" },
          ],
          [
            { name: "net.core.somaxconn", value: "1024" },
            { name: "kernel.shm_rmid_forced", value: "1" },
          ],
        ),
        windowsOptions: opt({ hostProcess: true }, { hostProcess: false }),
      },
      { requiredKeys: [] },
    ),
    // hostUsers: false relaxes the root checks since 1.35 (a user namespace), never procMount at restricted.
    host: fc.record({ hostNetwork: opt(true, false), hostPID: opt(true, false), hostIPC: opt(true), hostUsers: opt(true, false) }, { requiredKeys: [] }),
    os: opt("linux", "windows"),
    containers: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }),
    init: fc.boolean(),
    ephemeral: fc.boolean(),
    volumes: fc.subarray(Object.keys(VOLUMES)),
    annotation: opt("runtime/default", "localhost/p", "unconfined"),
  })
  .chain((p) =>
    fc.tuple(
      fc.constant(p),
      fc.tuple(...p.containers.map((_, i) => container(`c${i}`))),
      p.init ? container("init").map((c) => [c]) : fc.constant([]),
      p.ephemeral ? container("debug").map((c) => [c]) : fc.constant([]),
    ),
  )
  .map(([p, containers, initContainers, ephemeralContainers]) => {
    const spec: Record<string, unknown> = {
      ...strip(p.host),
      containers,
      ...(initContainers.length ? { initContainers } : {}),
      ...(ephemeralContainers.length ? { ephemeralContainers } : {}),
      securityContext: strip(p.sc),
    };
    if (p.os) spec["os"] = { name: p.os };
    if (p.volumes.length) spec["volumes"] = p.volumes.map((v) => ({ name: v.toLowerCase(), ...VOLUMES[v] }));
    const metadata: Record<string, unknown> = { name: "p" };
    if (p.annotation) metadata["annotations"] = { "container.apparmor.security.beta.kubernetes.io/c0": p.annotation };
    return { metadata, spec };
  });

function strip<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && !(typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)),
  ) as T;
}

/** Edits of a compliant pod: each breaks one control or varies it in an allowed way. */
type Pod = { metadata: Record<string, any>; spec: Record<string, any> };
const c0 = (p: Pod) => p.spec["containers"][0];
const EDITS: Record<string, (p: Pod) => void> = {
  podSeccompToContainers: (p) => {
    delete p.spec["securityContext"].seccompProfile;
    for (const c of p.spec["containers"]) c.securityContext.seccompProfile = { type: "RuntimeDefault" };
  },
  dropPodSeccomp: (p) => delete p.spec["securityContext"].seccompProfile,
  containerSeccompLocalhost: (p) => (c0(p).securityContext.seccompProfile = { type: "Localhost", localhostProfile: "p.json" }),
  containerSeccompUnconfined: (p) => (c0(p).securityContext.seccompProfile = { type: "Unconfined" }),
  containerSeccompTypeless: (p) => (c0(p).securityContext.seccompProfile = {}),
  podSeccompTypeless: (p) => (p.spec["securityContext"].seccompProfile = {}),
  podRunAsNonRootToContainers: (p) => {
    delete p.spec["securityContext"].runAsNonRoot;
    for (const c of p.spec["containers"]) c.securityContext.runAsNonRoot = true;
  },
  dropPodRunAsNonRoot: (p) => delete p.spec["securityContext"].runAsNonRoot,
  containerRunAsNonRootFalse: (p) => (c0(p).securityContext.runAsNonRoot = false),
  podRunAsUser0: (p) => (p.spec["securityContext"].runAsUser = 0),
  containerRunAsUser1000: (p) => (c0(p).securityContext.runAsUser = 1000),
  containerRunAsUser0: (p) => (c0(p).securityContext.runAsUser = 0),
  addNetBind: (p) => (c0(p).securityContext.capabilities.add = ["NET_BIND_SERVICE"]),
  addChown: (p) => (c0(p).securityContext.capabilities.add = ["CHOWN"]),
  dropNotAll: (p) => (c0(p).securityContext.capabilities.drop = ["NET_RAW"]),
  escalation: (p) => (c0(p).securityContext.allowPrivilegeEscalation = true),
  noEscalationField: (p) => delete c0(p).securityContext.allowPrivilegeEscalation,
  privileged: (p) => (c0(p).securityContext.privileged = true),
  privilegedFalse: (p) => (c0(p).securityContext.privileged = false),
  windows: (p) => (p.spec["os"] = { name: "windows" }),
  linux: (p) => (p.spec["os"] = { name: "linux" }),
  hostNetwork: (p) => (p.spec["hostNetwork"] = true),
  hostNetworkFalse: (p) => (p.spec["hostNetwork"] = false),
  hostPort: (p) => (c0(p).ports = [{ containerPort: 80, hostPort: 80 }]),
  hostPort0: (p) => (c0(p).ports = [{ containerPort: 80, hostPort: 0 }]),
  hostPath: (p) => (p.spec["volumes"] = [{ name: "h", hostPath: { path: "/" } }]),
  pvc: (p) =>
    (p.spec["volumes"] = [
      { name: "d", persistentVolumeClaim: { claimName: "d" } },
      { name: "t", emptyDir: {} },
    ]),
  safeSysctl: (p) => (p.spec["securityContext"].sysctls = [{ name: "net.ipv4.ip_local_port_range", value: "1024 65000" }]),
  unsafeSysctl: (p) => (p.spec["securityContext"].sysctls = [{ name: "net.core.somaxconn", value: "1024" }]),
  seLinuxOk: (p) => (c0(p).securityContext.seLinuxOptions = { type: "container_kvm_t", level: "s0:c1,c2" }),
  seLinuxBad: (p) => (p.spec["securityContext"].seLinuxOptions = { type: "unconfined_t" }),
  appArmorOk: (p) => (p.spec["securityContext"].appArmorProfile = { type: "RuntimeDefault" }),
  appArmorBad: (p) => (c0(p).securityContext.appArmorProfile = { type: "Unconfined" }),
  appArmorTypeless: (p) => (p.spec["securityContext"].appArmorProfile = {}),
  appArmorAnnotationOk: (p) => (p.metadata["annotations"] = { "container.apparmor.security.beta.kubernetes.io/c0": "localhost/prof" }),
  appArmorAnnotationBad: (p) => (p.metadata["annotations"] = { "container.apparmor.security.beta.kubernetes.io/c0": "unconfined" }),
  procMountDefault: (p) => (c0(p).securityContext.procMount = "Default"),
  procMountUnmasked: (p) => (c0(p).securityContext.procMount = "Unmasked"),
  hostProcess: (p) => (c0(p).securityContext.windowsOptions = { hostProcess: true }),
  initContainer: (p) =>
    (p.spec["initContainers"] = [
      { name: "init", image: "busybox:1.36", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } },
    ]),
  bareInitContainer: (p) => (p.spec["initContainers"] = [{ name: "init", image: "busybox:1.36" }]),
  secondContainer: (p) =>
    p.spec["containers"].push({ name: "c1", image: "x:1", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }),
  probeHost: (p) => (c0(p).livenessProbe = { httpGet: { port: 8080, host: "169.254.169.254" } }),
  probeNoHost: (p) => (c0(p).readinessProbe = { httpGet: { port: 8080, path: "/ready" } }),
  startupTcpHost: (p) => (c0(p).startupProbe = { tcpSocket: { port: 8080, host: "db" } }),
  preStopHost: (p) => (c0(p).lifecycle = { preStop: { httpGet: { port: 8080, host: "peer" } } }),
  userNamespace: (p) => (p.spec["hostUsers"] = false),
  hostUsersTrue: (p) => (p.spec["hostUsers"] = true),
  newSysctls: (p) =>
    (p.spec["securityContext"].sysctls = [
      { name: "net.ipv4.tcp_rmem", value: "4096 87380 6291456" },
      { name: "net.ipv4.tcp_slow_start_after_idle", value: "0" },
    ]),
  imageVolume: (p) => (p.spec["volumes"] = [{ name: "data", image: { reference: "registry.example/data:1" } }]),
  sourcelessVolume: (p) => (p.spec["volumes"] = [{ name: "nothing" }]),
  ephemeralContainer: (p) =>
    (p.spec["ephemeralContainers"] = [
      { name: "debug", image: "busybox:1.36", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } },
    ]),
  bareEphemeralContainer: (p) => (p.spec["ephemeralContainers"] = [{ name: "debug", image: "busybox:1.36", ports: [{ containerPort: 1, hostPort: 9 }] }]),
};
const compliantPod = (): Pod => ({
  metadata: { name: "p" },
  spec: {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    containers: [{ name: "c0", image: "registry.example/app:1.0", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
  },
});
const editedPodArb = fc
  .subarray(Object.keys(EDITS), { maxLength: 3 })
  .chain((names) => fc.shuffledSubarray(names, { minLength: names.length }))
  .map((names) => {
    const p = compliantPod();
    for (const n of names) EDITS[n]!(p);
    return p;
  });

/**
 * The reasons of every check k8s.io/pod-security-admission v0.37.2 runs at
 * restricted:latest (policy/check_*.go; the baseline capability and hostPath
 * checks are overridden there by their restricted versions).
 */
const UPSTREAM_REASONS = [
  "hostProcess",
  "host namespaces",
  "privileged",
  "hostPort",
  "forbidden AppArmor profile",
  "seLinuxOptions",
  "procMount",
  "forbidden sysctls",
  "restricted volume types",
  "allowPrivilegeEscalation != false",
  "runAsNonRoot != true",
  "runAsUser=0",
  "seccompProfile",
  "unrestricted capabilities",
  "probe or lifecycle host",
];

/** "privileged (container ...)" → "privileged"; upstream says "profiles" for several AppArmor findings. */
const controlOf = (reason: string) => reason.split(" (")[0]!.replace("forbidden AppArmor profiles", "forbidden AppArmor profile");

describe("Pod Security verdicts match the upstream admission library", () => {
  it("on 1,000 generated pods (random fields, and edits of a compliant pod): same admit/deny and the same failed controls", () => {
    const pods = [...fc.sample(podArb, { numRuns: 400, seed: 20261122 }), ...fc.sample(editedPodArb, { numRuns: 600, seed: 7 })];
    const out = execFileSync(oracle, { input: pods.map((p) => JSON.stringify(p)).join("\n") + "\n", encoding: "utf8", maxBuffer: 64 << 20 });
    const upstream = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { allowed: boolean; reasons: string[]; error?: string });
    expect(upstream).toHaveLength(pods.length);
    let denied = 0;
    const mismatches: string[] = [];
    pods.forEach((pod, i) => {
      const u = upstream[i]!;
      expect(u.error, JSON.stringify(pod)).toBeUndefined();
      const ours = [...new Set(restrictedViolations({ path: "spec", metadata: pod.metadata as PodMeta, spec: pod.spec as PodSpec }).map(controlOf))].sort();
      const theirs = [...new Set(u.reasons.map(controlOf))].sort();
      if (!u.allowed) denied++;
      if (JSON.stringify(ours) !== JSON.stringify(theirs) || (ours.length === 0) !== u.allowed)
        mismatches.push(`${JSON.stringify(pod)}\n    ours:     ${ours.join(" | ")}\n    upstream: ${theirs.join(" | ")}`);
    });
    expect(mismatches.slice(0, 5).join("\n")).toBe("");
    // Every check the library runs at "restricted" (latest) fires on some pods and not on others.
    const fired = new Map<string, number>();
    for (const u of upstream) for (const r of new Set(u.reasons.map(controlOf))) fired.set(r, (fired.get(r) ?? 0) + 1);
    expect([...fired.keys()].sort()).toEqual([...UPSTREAM_REASONS].sort());
    for (const [reason, n] of fired) {
      expect(n, `${reason} fires`).toBeGreaterThanOrEqual(5);
      expect(pods.length - n, `${reason} passes`).toBeGreaterThanOrEqual(5);
    }
    // The corpus must exercise both outcomes, or the comparison proves little.
    expect(denied).toBeGreaterThan(300);
    expect(pods.length - denied).toBeGreaterThan(100);
  });
});
