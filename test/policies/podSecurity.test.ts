import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNKNOWN } from "../../src/policy/analyzer";
import { asKind, podWith, restrictedPodSpec } from "../support/pods";
import { of, PackUnderTest, TYPES } from "../support/policyPack";

let pack: PackUnderTest;
beforeAll(async () => {
  pack = await PackUnderTest.start();
}, 60_000);
afterAll(async () => pack?.stop());

const POLICY = "k8s-pod-security-restricted";
const WORKLOADS = [TYPES.pod, TYPES.deployment, TYPES.statefulSet, TYPES.daemonSet, TYPES.replicaSet, TYPES.job, TYPES.cronJob];

async function reasons(spec: Record<string, unknown>, type: string = TYPES.deployment, annotations: Record<string, string> = {}) {
  return of(await pack.analyze(type, asKind(type, spec, annotations)), POLICY);
}

describe("Pod Security Standards, restricted profile (every control)", () => {
  it.each(WORKLOADS)("admits a compliant pod template in a %s", async (type) => {
    expect(await reasons(restrictedPodSpec(), type)).toEqual([]);
  });

  it.each(WORKLOADS)("rejects a privileged container in a %s, naming where the spec sits", async (type) => {
    const v = await reasons(
      podWith((s) => (s.containers[0].securityContext.privileged = true)),
      type,
    );
    expect(v).toHaveLength(1);
    expect(v[0]!.enforcementLevel).toBe("mandatory");
    expect(v[0]!.detail).toContain('privileged (container "app" must not set securityContext.privileged=true)');
    expect(v[0]!.detail).toMatch(
      type === TYPES.pod ? /^spec would violate/ : type === TYPES.cronJob ? /^spec\.jobTemplate\.spec\.template\.spec/ : /^spec\.template\.spec/,
    );
  });

  it.each([
    "kubernetes:apps/v1:DeploymentPatch",
    "kubernetes:apps/v1:DaemonSetPatch",
    "kubernetes:core/v1:PodPatch",
    "kubernetes:batch/v1:CronJobPatch",
    "kubernetes:core/v1:ReplicationController",
    "kubernetes:core/v1:PodTemplate",
    "kubernetes:argoproj.io/v1alpha1:Rollout",
  ])("checks the pod template of a %s too (no workload kind passes unseen)", async (type) => {
    const v = await reasons(
      podWith((s) => ((s.hostNetwork = true), (s.containers[0].securityContext.privileged = true))),
      type,
    );
    expect(v).toHaveLength(1);
    expect(v[0]!.detail).toContain("host namespaces (hostNetwork=true)");
    expect(v[0]!.detail).toContain('privileged (container "app" must not set securityContext.privileged=true)');
    expect(await reasons(restrictedPodSpec(), type)).toEqual([]);
  });

  // Each row: a control, an edit that breaks only it, and the reason the admission controller gives.
  const cases: [string, (s: Record<string, any>) => void, string][] = [
    ["HostProcess", (s) => (s.securityContext.windowsOptions = { hostProcess: true }), "hostProcess (pod must not set"],
    ["HostProcess (container)", (s) => (s.containers[0].securityContext.windowsOptions = { hostProcess: true }), 'hostProcess (container "app"'],
    ["host network", (s) => (s.hostNetwork = true), "host namespaces (hostNetwork=true)"],
    ["host PID and IPC", (s) => Object.assign(s, { hostPID: true, hostIPC: true }), "host namespaces (hostPID=true, hostIPC=true)"],
    // Restricted replaces baseline's capability and hostPath checks (as upstream does).
    [
      "capabilities beyond baseline",
      (s) => (s.containers[0].securityContext.capabilities.add = ["SYS_ADMIN"]),
      'unrestricted capabilities (container "app" must not include "SYS_ADMIN"',
    ],
    [
      "restricted capabilities: add",
      (s) => (s.containers[0].securityContext.capabilities.add = ["CHOWN"]),
      'unrestricted capabilities (container "app" must not include "CHOWN"',
    ],
    [
      "restricted capabilities: drop ALL",
      (s) => (s.containers[0].securityContext.capabilities.drop = ["NET_RAW"]),
      'must set securityContext.capabilities.drop=["ALL"]',
    ],
    [
      "hostPath volume",
      (s) => s.volumes.push({ name: "host", hostPath: { path: "/var/run" } }),
      'restricted volume types (volume "host" uses restricted volume type "hostPath")',
    ],
    [
      "restricted volume type",
      (s) => s.volumes.push({ name: "nfs", nfs: { server: "10.0.0.2", path: "/x" } }),
      'restricted volume types (volume "nfs" uses restricted volume type "nfs")',
    ],
    ["host port", (s) => (s.containers[0].ports[0].hostPort = 8080), 'hostPort (container "app" uses hostPort 8080)'],
    [
      "AppArmor field",
      (s) => (s.securityContext.appArmorProfile = { type: "Unconfined" }),
      'forbidden AppArmor profile (pod securityContext.appArmorProfile.type="Unconfined")',
    ],
    [
      "SELinux type",
      (s) => (s.securityContext.seLinuxOptions = { type: "spc_t" }),
      'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions type "spc_t")',
    ],
    [
      "SELinux user",
      (s) => (s.containers[0].securityContext.seLinuxOptions = { user: "system_u" }),
      'seLinuxOptions (container "app" set forbidden securityContext.seLinuxOptions user "system_u")',
    ],
    ["/proc mount", (s) => (s.containers[0].securityContext.procMount = "Unmasked"), 'procMount (container "app"'],
    ["unsafe sysctl", (s) => (s.securityContext.sysctls = [{ name: "kernel.msgmax", value: "1" }]), "forbidden sysctls (kernel.msgmax)"],
    [
      "seccomp Unconfined",
      (s) => (s.securityContext.seccompProfile = { type: "Unconfined" }),
      'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    ],
    [
      "seccomp unset",
      (s) => delete s.securityContext.seccompProfile,
      'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    ],
    [
      "privilege escalation unset",
      (s) => delete s.containers[0].securityContext.allowPrivilegeEscalation,
      'allowPrivilegeEscalation != false (container "app" must set',
    ],
    [
      "runAsNonRoot unset",
      (s) => delete s.securityContext.runAsNonRoot,
      'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)',
    ],
    [
      "runAsNonRoot false on a container",
      (s) => (s.containers[0].securityContext.runAsNonRoot = false),
      'runAsNonRoot != true (container "app" must not set securityContext.runAsNonRoot=false)',
    ],
    ["runAsUser 0", (s) => (s.containers[0].securityContext.runAsUser = 0), 'runAsUser=0 (container "app" must not set runAsUser=0)'],
    [
      "init containers are checked too",
      (s) =>
        (s.initContainers = [
          { name: "init", image: "busybox:1.36", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, privileged: true } },
        ]),
      'privileged (container "init"',
    ],
  ];

  it.each(cases)("%s", async (_control, edit, reason) => {
    const v = await reasons(podWith(edit));
    expect(v).toHaveLength(1);
    expect(v[0]!.detail).toContain(reason);
  });

  it("checks AppArmor annotations on the pod template", async () => {
    const bad = await reasons(restrictedPodSpec(), TYPES.deployment, { "container.apparmor.security.beta.kubernetes.io/app": "unconfined" });
    expect(bad[0]!.detail).toContain('forbidden AppArmor profile (annotation container.apparmor.security.beta.kubernetes.io/app="unconfined")');
    expect(await reasons(restrictedPodSpec(), TYPES.deployment, { "container.apparmor.security.beta.kubernetes.io/app": "runtime/default" })).toEqual([]);
  });

  it("accepts what the standard allows: container-level settings instead of pod-level, NET_BIND_SERVICE, safe sysctls, container_init_t", async () => {
    const spec = podWith((s) => {
      s.securityContext = { sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }], seLinuxOptions: { type: "container_init_t" } };
      s.containers[0].securityContext = {
        ...s.containers[0].securityContext,
        runAsNonRoot: true,
        seccompProfile: { type: "Localhost", localhostProfile: "p.json" },
        capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
      };
    });
    expect(await reasons(spec)).toEqual([]);
  });

  it("exempts Windows pods from the Linux-only controls (seccomp, privilege escalation, capabilities) but not from runAsNonRoot", async () => {
    const windows = podWith((s) => {
      s.os = { name: "windows" };
      delete s.securityContext.seccompProfile;
      s.containers[0].securityContext = { readOnlyRootFilesystem: true };
    });
    expect(await reasons(windows)).toEqual([]);
    const root = podWith((s) => {
      s.os = { name: "windows" };
      delete s.securityContext.runAsNonRoot;
    });
    expect((await reasons(root))[0]!.detail).toContain("runAsNonRoot != true");
  });

  it("reports every failed control of one pod in one message", async () => {
    const v = await reasons(podWith((s) => Object.assign(s, { hostNetwork: true, securityContext: {} })));
    expect(v).toHaveLength(1);
    for (const r of ["host namespaces", "runAsNonRoot != true", "seccompProfile"]) expect(v[0]!.detail).toContain(r);
  });

  it("does not guess during preview: an unknown pod spec is not a violation", async () => {
    const r = await pack.analyze(TYPES.deployment, {
      metadata: { name: "api" },
      spec: { replicas: 2, template: { metadata: { labels: { app: "api" } }, spec: UNKNOWN } },
    });
    expect(of(r, POLICY)).toEqual([]);
    const partly = await pack.analyze(
      TYPES.deployment,
      asKind(
        TYPES.deployment,
        podWith((s) => (s.containers[0].securityContext.runAsUser = UNKNOWN)),
      ),
    );
    expect(of(partly, POLICY)).toEqual([]);
  });

  it("is not applicable to other kinds", async () => {
    const r = await pack.analyze(TYPES.namespace, { metadata: { name: "agents" } });
    expect(r.notApplicable.map((n) => n.policyName)).toContain(POLICY);
  });
});
