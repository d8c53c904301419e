import type { ResourceValidationPolicy } from "@pulumi/policy";
import { allContainers, onPodTemplates, type PodTemplate } from "./lib/podSpec";
import { known } from "./lib/policy";

/**
 * The Kubernetes Pod Security Standards, "restricted" profile (which
 * includes "baseline"), control by control as the upstream admission
 * controller (k8s.io/pod-security-admission, policy version "latest")
 * evaluates them. As upstream, the restricted versions of a control replace
 * the baseline ones: "restricted volume types" covers hostPath, restricted
 * capabilities cover baseline's, restricted seccomp covers baseline's (and
 * skips Windows pods entirely). Each function returns the forbidden reasons
 * in the admission controller's words, empty when the control passes.
 * test/policies/podSecurityOracle.test.ts compares the verdicts with the
 * upstream library on generated pods.
 */

const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  // Added in 1.32 and 1.37 (k8s.io/pod-security-admission check_sysctls.go).
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem",
  "net.ipv4.tcp_slow_start_after_idle",
  "net.ipv4.tcp_notsent_lowat",
]);
const SELINUX_TYPES = new Set(["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]);
/** The volume sources "restricted" allows (image volumes since the library added them). */
const RESTRICTED_VOLUME_TYPES = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret"]);
const APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/";

type Control = { name: string; check: (pod: PodTemplate) => string[] };

const sc = (pod: PodTemplate) => known(() => pod.spec.securityContext) ?? {};
const isWindows = (pod: PodTemplate) => known(() => pod.spec.os?.name) === "windows";
/** A pod in its own user namespace (hostUsers: false): since 1.35 its root is not the node's, so the root checks relax. */
const ownUserNamespace = (pod: PodTemplate) => known(() => pod.spec.hostUsers) === false;
const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(", ");
/** `container "a"` or `containers "a", "b"`, as the admission controller words it. */
const plural = (noun: string, names: string[]) => `${noun}${names.length === 1 ? "" : "s"} ${quoted(names)}`;

/**
 * A seccomp or AppArmor profile's type as upstream judges it: undefined when
 * no profile is set (the pod's, or the runtime's, applies); a profile that
 * is set without a type has the empty type, which no level allows.
 */
function profileType(profile: { type?: unknown } | null | undefined): string | undefined {
  if (!profile) return undefined;
  const t = known(() => profile.type);
  return typeof t === "string" ? t : t === undefined || t === null ? "" : JSON.stringify(t);
}

export const CONTROLS: Control[] = [
  {
    name: "HostProcess",
    check: (pod) => {
      const bad = allContainers(pod.spec)
        .filter(({ c }) => known(() => c.securityContext?.windowsOptions?.hostProcess) === true)
        .map((x) => x.name);
      const podLevel = known(() => sc(pod).windowsOptions?.hostProcess) === true;
      return podLevel || bad.length
        ? [`hostProcess (${podLevel ? "pod" : `${plural("container", bad)}`} must not set securityContext.windowsOptions.hostProcess=true)`]
        : [];
    },
  },
  {
    name: "Host Namespaces",
    check: (pod) => {
      const on = (["hostNetwork", "hostPID", "hostIPC"] as const).filter((k) => known(() => pod.spec[k]) === true);
      return on.length ? [`host namespaces (${on.map((k) => `${k}=true`).join(", ")})`] : [];
    },
  },
  {
    name: "Privileged Containers",
    check: (pod) => {
      const bad = allContainers(pod.spec)
        .filter(({ c }) => known(() => c.securityContext?.privileged) === true)
        .map((x) => x.name);
      return bad.length ? [`privileged (${plural("container", bad)} must not set securityContext.privileged=true)`] : [];
    },
  },
  {
    name: "Host Ports",
    check: (pod) => {
      const out: string[] = [];
      for (const { name, c } of allContainers(pod.spec)) {
        const ports = ((known(() => c.ports) ?? []) as { hostPort?: number }[])
          .map((p) => known(() => p.hostPort))
          .filter((p): p is number => typeof p === "number" && p !== 0);
        if (ports.length) out.push(`hostPort (container "${name}" uses hostPort ${ports.join(", ")})`);
      }
      return out;
    },
  },
  {
    name: "AppArmor",
    check: (pod) => {
      const out: string[] = [];
      const annotations = (known(() => pod.metadata?.annotations) ?? {}) as Record<string, string>;
      for (const [k, v] of Object.entries(annotations)) {
        if (k.startsWith(APPARMOR_ANNOTATION) && !(v === "" || v === "runtime/default" || v.startsWith("localhost/")))
          out.push(`forbidden AppArmor profile (annotation ${k}="${v}")`);
      }
      // As upstream: no profile is allowed; a profile is judged by its type, and a profile without one has the empty type.
      const allowed = (t: string | undefined) => t === undefined || t === "RuntimeDefault" || t === "Localhost";
      const podType = profileType(known(() => sc(pod).appArmorProfile));
      if (!allowed(podType)) out.push(`forbidden AppArmor profile (pod securityContext.appArmorProfile.type="${podType}")`);
      for (const { name, c } of allContainers(pod.spec)) {
        const t = profileType(known(() => c.securityContext?.appArmorProfile));
        if (!allowed(t)) out.push(`forbidden AppArmor profile (container "${name}" securityContext.appArmorProfile.type="${t}")`);
      }
      return out;
    },
  },
  {
    name: "SELinux",
    check: (pod) => {
      const out: string[] = [];
      const checkOptions = (where: string, o: { type?: string; user?: string; role?: string } | undefined) => {
        if (!o) return;
        if (o.type !== undefined && !SELINUX_TYPES.has(o.type))
          out.push(`seLinuxOptions (${where} set forbidden securityContext.seLinuxOptions type "${o.type}")`);
        if (o.user) out.push(`seLinuxOptions (${where} set forbidden securityContext.seLinuxOptions user "${o.user}")`);
        if (o.role) out.push(`seLinuxOptions (${where} set forbidden securityContext.seLinuxOptions role "${o.role}")`);
      };
      checkOptions(
        "pod",
        known(() => sc(pod).seLinuxOptions),
      );
      for (const { name, c } of allContainers(pod.spec))
        checkOptions(
          `container "${name}"`,
          known(() => c.securityContext?.seLinuxOptions),
        );
      return out;
    },
  },
  {
    name: "/proc Mount Type",
    check: (pod) => {
      const bad = allContainers(pod.spec)
        .filter(({ c }) => {
          const m = known(() => c.securityContext?.procMount);
          return m !== undefined && m !== "Default";
        })
        .map((x) => x.name);
      return bad.length ? [`procMount (${plural("container", bad)} must not set securityContext.procMount to anything but "Default")`] : [];
    },
  },
  {
    name: "Sysctls",
    check: (pod) => {
      const names = ((known(() => sc(pod).sysctls) ?? []) as { name?: string }[]).map((s) => String(known(() => s.name))).filter((n) => !SAFE_SYSCTLS.has(n));
      return names.length ? [`forbidden sysctls (${names.join(", ")})`] : [];
    },
  },
  {
    name: "Volume Types",
    check: (pod) => {
      const out: string[] = [];
      for (const v of (known(() => pod.spec.volumes) ?? []) as Record<string, unknown>[]) {
        const types = Object.keys(v).filter((k) => k !== "name" && v[k] !== undefined && v[k] !== null);
        // As the library decides: one allowed source admits the volume; a volume with none is "unknown" (the
        // library runs on the spec as given, before the API server would default it to emptyDir).
        if (types.some((t) => RESTRICTED_VOLUME_TYPES.has(t))) continue;
        out.push(`restricted volume types (volume "${String(v["name"])}" uses restricted volume type ${quoted(types.length ? types : ["unknown"])})`);
      }
      return out;
    },
  },
  {
    name: "Privilege Escalation",
    check: (pod) => {
      if (isWindows(pod)) return [];
      const bad = allContainers(pod.spec)
        .filter(({ c }) => known(() => c.securityContext?.allowPrivilegeEscalation) !== false)
        .map((x) => x.name);
      return bad.length ? [`allowPrivilegeEscalation != false (${plural("container", bad)} must set securityContext.allowPrivilegeEscalation=false)`] : [];
    },
  },
  {
    name: "Host Probes / Lifecycle Hooks",
    check: (pod) => {
      type Handler = { httpGet?: { host?: string }; tcpSocket?: { host?: string } } | undefined;
      const hostsOf = (h: Handler) =>
        [known(() => h?.httpGet?.host), known(() => h?.tcpSocket?.host)].filter((x): x is string => typeof x === "string" && x !== "");
      const bad = new Set<string>();
      const hosts = new Set<string>();
      for (const { name, c } of allContainers(pod.spec)) {
        const handlers = [
          known(() => c.livenessProbe),
          known(() => c.readinessProbe),
          known(() => c.startupProbe),
          known(() => c.lifecycle?.postStart),
          known(() => c.lifecycle?.preStop),
        ] as Handler[];
        const found = handlers.flatMap(hostsOf);
        if (found.length) {
          bad.add(name);
          for (const h of found) hosts.add(h);
        }
      }
      if (bad.size === 0) return [];
      const names = [...bad].sort();
      const list = [...hosts].sort();
      return [`probe or lifecycle host (${plural("container", names)} ${names.length === 1 ? "uses" : "use"} ${plural("probe or lifecycle host", list)})`];
    },
  },
  {
    name: "Running as Non-root",
    check: (pod) => {
      if (ownUserNamespace(pod)) return [];
      const podValue = known(() => sc(pod).runAsNonRoot);
      const out: string[] = [];
      if (podValue === false) out.push("runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)");
      const explicitFalse: string[] = [];
      const implicit: string[] = [];
      for (const { name, c } of allContainers(pod.spec)) {
        const v = known(() => c.securityContext?.runAsNonRoot);
        if (v === false) explicitFalse.push(name);
        else if (v === undefined && podValue !== true) implicit.push(name);
      }
      if (explicitFalse.length) out.push(`runAsNonRoot != true (${plural("container", explicitFalse)} must not set securityContext.runAsNonRoot=false)`);
      if (implicit.length && podValue !== false)
        out.push(`runAsNonRoot != true (pod or ${plural("container", implicit)} must set securityContext.runAsNonRoot=true)`);
      return out;
    },
  },
  {
    name: "Running as Non-root user",
    check: (pod) => {
      if (ownUserNamespace(pod)) return [];
      const out: string[] = [];
      if (known(() => sc(pod).runAsUser) === 0) out.push("runAsUser=0 (pod must not set runAsUser=0)");
      const bad = allContainers(pod.spec)
        .filter(({ c }) => known(() => c.securityContext?.runAsUser) === 0)
        .map((x) => x.name);
      if (bad.length) out.push(`runAsUser=0 (${plural("container", bad)} must not set runAsUser=0)`);
      return out;
    },
  },
  {
    name: "Seccomp",
    check: (pod) => {
      if (isWindows(pod)) return [];
      const valid = (t: unknown) => t === "RuntimeDefault" || t === "Localhost";
      // As upstream: a profile that is set is judged by its type (none is the empty type, never valid); an unset one inherits.
      const out: string[] = [];
      const podType = profileType(known(() => sc(pod).seccompProfile));
      if (podType !== undefined && !valid(podType)) out.push(`seccompProfile (pod must not set securityContext.seccompProfile.type to "${podType}")`);
      const explicit: string[] = [];
      const implicit: string[] = [];
      for (const { name, c } of allContainers(pod.spec)) {
        const t = profileType(known(() => c.securityContext?.seccompProfile));
        if (t !== undefined && !valid(t)) explicit.push(name);
        else if (t === undefined && !valid(podType)) implicit.push(name);
      }
      if (explicit.length) out.push(`seccompProfile (${plural("container", explicit)} must not set securityContext.seccompProfile.type to "Unconfined")`);
      if (implicit.length)
        out.push(`seccompProfile (pod or ${plural("container", implicit)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`);
      return out;
    },
  },
  {
    name: "Capabilities (restricted)",
    check: (pod) => {
      if (isWindows(pod)) return [];
      const out: string[] = [];
      const noDrop: string[] = [];
      for (const { name, c } of allContainers(pod.spec)) {
        const drop = (known(() => c.securityContext?.capabilities?.drop) ?? []) as string[];
        if (!drop.includes("ALL")) noDrop.push(name);
        const add = ((known(() => c.securityContext?.capabilities?.add) ?? []) as string[]).filter((cap) => cap !== "NET_BIND_SERVICE");
        if (add.length) out.push(`unrestricted capabilities (container "${name}" must not include ${quoted(add)} in securityContext.capabilities.add)`);
      }
      if (noDrop.length) out.push(`unrestricted capabilities (${plural("container", noDrop)} must set securityContext.capabilities.drop=["ALL"])`);
      return out;
    },
  },
];

/** Every forbidden reason of the restricted profile for one pod (empty: admitted). */
export const restrictedViolations = (pod: PodTemplate): string[] => CONTROLS.flatMap((c) => c.check(pod));

export const podSecurityRestricted: ResourceValidationPolicy = {
  name: "k8s-pod-security-restricted",
  description:
    'Pods and pod templates meet the Kubernetes Pod Security Standards "restricted" profile (latest), with the verdicts of the pod-security admission controller.',
  severity: "high",
  enforcementLevel: "mandatory",
  framework: {
    name: "Kubernetes Pod Security Standards",
    version: "latest",
    reference: "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
    specification: "restricted",
  },
  validateResource: onPodTemplates((pod, _args, report) => {
    const reasons = restrictedViolations(pod);
    if (reasons.length)
      report(
        `${pod.path} would violate PodSecurity "restricted:latest": ${reasons.join(", ")}. Set runAsNonRoot, allowPrivilegeEscalation=false, capabilities.drop=["ALL"] and seccompProfile RuntimeDefault; drop host namespaces, host ports and hostPath.`,
      );
  }),
};
