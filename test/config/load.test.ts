import { describe, expect, it } from "vitest";
import { parseStackConfig, PROJECT, type ConfigProblem } from "../../src/config/load";
import { readStackFile } from "../../src/plan/stackFile";
import { editedStackFile, gkeOf, stackFile } from "../support/stacks";

type Config = Record<string, unknown>;
const k = (key: string) => `${PROJECT}:${key}`;
const section = (c: Config, key: string) => c[k(key)] as Record<string, unknown>;

function problemsOf(stack: string, edit: (c: Config) => void): ConfigProblem[] {
  const result = parseStackConfig(readStackFile(editedStackFile(stack, edit), stack));
  if (result.ok) throw new Error("expected the config to be rejected");
  return result.problems;
}

describe("committed stack files", () => {
  it.each(["dev", "staging", "production"])("%s parses against the schema", (stack) => {
    const result = parseStackConfig(readStackFile(stackFile(stack), stack));
    expect(result.ok ? [] : result.problems).toEqual([]);
  });

  it("fill the environment defaults from the requirements", () => {
    const parse = (stack: string) => {
      const r = parseStackConfig(readStackFile(stackFile(stack), stack));
      if (!r.ok) throw new Error("invalid");
      return r.config;
    };
    const dev = parse("dev");
    const staging = parse("staging");
    const prod = parse("production");
    expect([dev.backend.minInstances, dev.backend.maxInstances]).toEqual([0, 2]);
    expect([staging.backend.minInstances, staging.backend.maxInstances]).toEqual([1, 5]);
    expect([prod.backend.minInstances, prod.backend.maxInstances, prod.backend.cpuTargetPercent]).toEqual([2, 20, 70]);
    expect([dev.workloads.replicas, dev.workloads.resources]).toEqual([1, { cpu: "500m", memory: "1Gi" }]);
    expect(staging.workloads.resources).toEqual({ cpu: "1000m", memory: "2Gi" });
    expect(prod.workloads.resources).toEqual({ cpu: "2000m", memory: "4Gi" });
    expect([gkeOf(dev).regional, gkeOf(staging).regional, gkeOf(prod).regional]).toEqual([false, false, true]);
    expect([dev.monitoring.level, staging.monitoring.level, prod.monitoring.level]).toEqual(["minimal", "standard", "comprehensive"]);
    expect([dev.release.strategy, staging.release.strategy, prod.release.strategy]).toEqual(["direct", "blue-green", "canary"]);
    expect(prod.release.strategy === "canary" && prod.release.steps).toEqual([5, 10, 25, 50, 100]);
  });

  it("a stack that switches strategy starts from that strategy's defaults", () => {
    const file = editedStackFile("dev", (c) => {
      c[k("release")] = { strategy: "canary", steps: [10, 100] };
    });
    const r = parseStackConfig(readStackFile(file, "dev"));
    expect(r.ok).toBe(true);
    if (r.ok && r.config.release.strategy === "canary") {
      expect(r.config.release.steps).toEqual([10, 100]);
      expect(r.config.release.analysis.alpha).toBe(0.05);
      expect(r.config.release.target).toBe("cloud-run");
    }
  });
});

describe("bad configuration is rejected with the key, the expectation and the finding", () => {
  const cases: { name: string; stack: string; edit: (c: Config) => void; key: string; problem: RegExp }[] = [
    {
      name: "wrong type",
      stack: "production",
      edit: (c) => void (section(c, "backend")["maxInstances"] = "twenty"),
      key: "backend.maxInstances",
      problem: /expected number \(found "twenty"\)/,
    },
    {
      name: "unknown key",
      stack: "production",
      edit: (c) => void (section(c, "backend")["maxInstance"] = 4),
      key: "backend.maxInstance",
      problem: /unknown key/,
    },
    { name: "unknown top-level key", stack: "dev", edit: (c) => void (c[k("colour")] = "blue"), key: "colour", problem: /unknown key/ },
    {
      name: "missing required key",
      stack: "staging",
      edit: (c) => void delete section(c, "gcp")["project"],
      key: "gcp.project",
      problem: /required key is missing \(expected string\)/,
    },
    {
      name: "plaintext secret",
      stack: "production",
      edit: (c) => void (c[k("vercelApiToken")] = "tok_plaintext"),
      key: "vercelApiToken",
      problem: /must be set with `pulumi config set --secret`/,
    },
    {
      name: "missing secret",
      stack: "dev",
      edit: (c) => void delete c[k("firebaseCredentials")],
      key: "firebaseCredentials",
      problem: /pulumi config set --secret firebaseCredentials <value> --stack dev/,
    },
    {
      name: "steps not ending at 100",
      stack: "production",
      edit: (c) => void (c[k("release")] = { steps: [5, 10, 50] }),
      key: "release.steps",
      problem: /must end at 100 \(ends at 50\)/,
    },
    {
      name: "steps not increasing",
      stack: "production",
      edit: (c) => void (c[k("release")] = { steps: [10, 5, 100] }),
      key: "release.steps[1]",
      problem: /strictly increasing \(10 then 5\)/,
    },
    {
      name: "min > max instances",
      stack: "staging",
      edit: (c) => void (section(c, "backend")["minInstances"] = 9),
      key: "backend.minInstances",
      problem: /must not exceed backend.maxInstances \(9 > 5\)/,
    },
    {
      name: "invalid region",
      stack: "dev",
      edit: (c) => void (section(c, "gcp")["region"] = "europe-wset1"),
      key: "gcp.region",
      problem: /did you mean "europe-west1"\?/,
    },
    {
      name: "zone outside region",
      stack: "dev",
      edit: (c) => void (section(c, "gcp")["zone"] = "us-central1-a"),
      key: "gcp.zone",
      problem: /must be a zone of region europe-west1/,
    },
    {
      name: "image without digest in production",
      stack: "production",
      edit: (c) => void (section(c, "backend")["image"] = "europe-docker.pkg.dev/acme-artifacts/backend/ws-backend:1.8.0"),
      key: "backend.image",
      problem: /must be pinned by digest/,
    },
    {
      name: "unknown strategy",
      stack: "dev",
      edit: (c) => void (c[k("release")] = { strategy: "yolo" }),
      key: "release.strategy",
      problem: /expected one of "direct", "blue-green", "canary"/,
    },
    {
      name: "talksTo an unknown agent",
      stack: "dev",
      edit: (c) => void ((section(c, "workloads")["services"] as Config[])[0]!["talksTo"] = ["ghost"]),
      key: "workloads.services[0].talksTo[0]",
      problem: /names no agent service/,
    },
    {
      name: "malformed structured value",
      stack: "dev",
      edit: (c) => void (c[k("monitoring")] = "{not json"),
      key: "monitoring",
      problem: /not valid structured config/,
    },
  ];

  it.each(cases)("$name", ({ stack, edit, key, problem }) => {
    const problems = problemsOf(stack, edit);
    const hit = problems.find((p) => p.key === k(key));
    expect(hit, `problems were: ${JSON.stringify(problems, null, 2)}`).toBeDefined();
    expect(hit!.problem).toMatch(problem);
    expect(hit!.stack).toBe(stack);
    expect(hit!.origin).toBe(`Pulumi.${stack}.yaml`);
  });

  it("lists every problem in one pass, type errors and cross-field rules together", () => {
    const problems = problemsOf("production", (c) => {
      section(c, "backend")["maxInstances"] = "lots";
      section(c, "backend")["minInstances"] = 50;
      section(c, "backend")["image"] = "europe-docker.pkg.dev/a/b/c:latest";
      c[k("vercelApiToken")] = "plain";
      section(c, "gcp")["region"] = "mars-north1";
    });
    expect(problems.map((p) => p.key).sort()).toEqual([k("backend.image"), k("backend.maxInstances"), k("gcp.region"), k("vercelApiToken")].sort());
  });

  it("never prints a secret's value in a problem", () => {
    const problems = problemsOf("production", (c) => void (c[k("vercelApiToken")] = "tok_do_not_print"));
    expect(JSON.stringify(problems)).not.toContain("tok_do_not_print");
  });

  it("takes the environment from the stack name, never from config: a production stack cannot say it is dev", () => {
    const stranger = parseStackConfig({ stack: "feature-x", origin: "Pulumi.feature-x.yaml", values: {}, secretKeys: new Set() });
    expect(stranger.ok).toBe(false);
    if (!stranger.ok)
      expect(stranger.problems[0]).toMatchObject({
        key: k("environment"),
        problem: expect.stringMatching(/^the stack name "feature-x" names no environment: name the stack dev, staging or production/),
      });
    const lying = problemsOf("production", (c) => void (c[k("environment")] = "dev"));
    expect(lying).toEqual([
      expect.objectContaining({
        key: k("environment"),
        problem: 'stack production is production; its environment follows from the stack name, not from config (found "dev"): remove the key',
      }),
    ]);
    // Saying what the stack name says is allowed; a suffixed stack takes its environment's defaults.
    const file = editedStackFile("staging", (c) => void (c[k("environment")] = "staging"));
    expect(parseStackConfig(readStackFile(file, "staging")).ok).toBe(true);
    const suffixed = parseStackConfig(readStackFile(file, "staging-eu"));
    expect(suffixed.ok && suffixed.config.environment).toBe("staging");
    expect(suffixed.ok && suffixed.config.backend.maxInstances).toBe(5);
  });

  it("a stack deploys only into its own environment's project (policies/environments.json): a dev stack into the production project is refused", () => {
    const intoProd = problemsOf("dev", (c) => void (section(c, "gcp")["project"] = "acme-delivery-prod"));
    expect(intoProd).toEqual([
      expect.objectContaining({
        key: k("gcp.project"),
        problem: "is acme-delivery-prod, which policies/environments.json binds to production, but stack dev is dev: deploy it into a dev project",
      }),
    ]);
    // A suffixed stack is its environment; a project the record does not know is left to the pack.
    expect(problemsOf("staging", (c) => void (section(c, "gcp")["project"] = "acme-delivery-dev"))).toEqual([
      expect.objectContaining({ key: k("gcp.project"), problem: expect.stringContaining("binds to dev, but stack staging is staging") }),
    ]);
    const unknown = editedStackFile("dev", (c) => void (section(c, "gcp")["project"] = "someone-elses-sandbox"));
    expect(parseStackConfig(readStackFile(unknown, "dev")).ok).toBe(true);
  });

  it.each([
    ["999.999.999.999/32", /an IPv4 CIDR range such as 10\.0\.0\.0\/20 \(found "999\.999\.999\.999\/32"\)/],
    ["10.0.0.0/33", /an IPv4 CIDR range/],
    ["10.0.0.1/24", /10\.0\.0\.1\/24 has host bits set: the range is 10\.0\.0\.0\/24/],
  ])("parses CIDR ranges for real: %s is refused", (cidr, message) => {
    const problems = problemsOf("production", (c) => void ((section(c, "cluster")["authorizedNetworks"] as { cidr: string }[])[0]!.cidr = cidr));
    expect(problems).toEqual([expect.objectContaining({ key: k("cluster.authorizedNetworks[0].cidr"), problem: expect.stringMatching(message) })]);
  });

  it("bounds sizes, counts and durations", () => {
    const problems = problemsOf("production", (c) => {
      section(c, "cluster")["maxNodes"] = 100_000;
      c[k("workloads")] = { ...section(c, "workloads"), replicas: 5000, resources: { cpu: "500", memory: "4096Gi" } };
      c[k("release")] = { bakeSeconds: 10_000_000, analysis: { guardrails: { p95LatencyMs: 9_999_999 } } };
    });
    expect([...new Set(problems.map((p) => p.key))].sort()).toEqual(
      [
        k("cluster.maxNodes"),
        k("workloads.replicas"),
        k("workloads.resources.cpu"),
        k("workloads.resources.memory"),
        k("release.bakeSeconds"),
        k("release.analysis.guardrails.p95LatencyMs"),
      ].sort(),
    );
    expect(problems.find((p) => p.key === k("workloads.resources.memory"))!.problem).toContain("at most 256Gi");
  });

  it("__proto__, constructor and prototype are unknown keys, never merged into the config", () => {
    // As Pulumi hands structured config over: JSON text (JSON.parse keeps "__proto__" as an own key).
    const source = readStackFile(stackFile("production"), "production");
    const backend = source.values["backend"]!;
    const monitoring = source.values["monitoring"]!;
    const result = parseStackConfig({
      ...source,
      values: {
        ...source.values,
        backend: `{"__proto__": {"public": false}, "constructor": {"x": 1}, ${backend.slice(1)}`,
        monitoring: `{"prototype": 1, ${monitoring.slice(1)}`,
      },
    });
    expect(result.ok ? [] : result.problems.map((p) => [p.key, p.problem])).toEqual([
      [k("backend.__proto__"), "unknown key (not in the config schema; check the spelling)"],
      [k("backend.constructor"), "unknown key (not in the config schema; check the spelling)"],
      [k("monitoring.prototype"), "unknown key (not in the config schema; check the spelling)"],
    ]);
    expect(({} as Record<string, unknown>)["public"]).toBeUndefined();
  });

  it("a key of a mistyped namespace, or of none, is an error with the key it was meant to be", () => {
    const problems = problemsOf("production", (c) => {
      c["progressive-deliveri:slackWebhookUrl"] = c[k("slackWebhookUrl")];
      delete c[k("slackWebhookUrl")];
      c["monitoring"] = { level: "minimal" };
      c["gcp:project"] = "acme-delivery-prod";
      c["acme:owner"] = "x";
    });
    expect(problems.map((p) => [p.key, p.problem])).toEqual([
      [
        "progressive-deliveri:slackWebhookUrl",
        'namespace "progressive-deliveri" is not used by this program or its providers: did you mean progressive-delivery:slackWebhookUrl?',
      ],
      ["monitoring", "has no namespace, so this program never reads it: did you mean progressive-delivery:monitoring?"],
      ["acme:owner", expect.stringMatching(/^namespace "acme" is not used by this program or its providers \(allowed: progressive-delivery, pulumi, gcp/)],
    ]);
  });

  it("a required key under a mistyped namespace is named in the missing key's problem", () => {
    const problems = problemsOf("production", (c) => {
      c["progressive-deliver:owner"] = c[k("owner")];
      delete c[k("owner")];
    });
    expect(problems).toContainEqual(
      expect.objectContaining({
        key: k("owner"),
        problem: "required key is missing; progressive-deliver:owner is set instead (a mistyped namespace?): use progressive-delivery:owner",
      }),
    );
  });

  it('the emergency switches take exactly "true" or "false": anything else is a typo, not a yes', () => {
    for (const value of ["yes", "1", "ON", "enabled"]) {
      const problems = problemsOf("production", (c) => void (c[k("releaseImmediately")] = value));
      expect(problems).toEqual([expect.objectContaining({ key: k("releaseImmediately"), problem: expect.stringContaining('expected "true" or "false"') })]);
    }
    const off = parseStackConfig(
      readStackFile(
        editedStackFile("production", (c) => void (c[k("releaseImmediately")] = "false")),
        "production",
      ),
    );
    expect(off.ok && off.config.releaseImmediately).toBe(false);
  });

  it("cluster.mode existing: takes no GKE defaults, needs its kubeconfig (a secret), a GatewayClass of its own and the Gateway's source ranges", () => {
    const existing = (cluster: Record<string, unknown>, extra: (c: Config) => void = () => {}) =>
      problemsOf("staging", (c) => {
        c[k("cluster")] = cluster;
        extra(c);
      });
    const bare = existing({ mode: "existing" });
    expect(bare.map((p) => p.key).sort()).toEqual([k("cluster.gatewaySourceCidrs"), k("kubeconfig"), k("workloads.gatewayClassName")].sort());
    expect(bare.find((p) => p.key === k("kubeconfig"))!.problem).toContain("pulumi config set --secret kubeconfig");
    // GKE settings do not belong to an existing cluster.
    expect(existing({ mode: "existing", regional: true })).toContainEqual(
      expect.objectContaining({ key: k("cluster.regional"), problem: expect.stringContaining("unknown key") }),
    );
    const file = editedStackFile("staging", (c) => {
      c[k("cluster")] = { mode: "existing", context: "platform", gatewaySourceCidrs: ["10.0.0.0/24"] };
      c[k("kubeconfig")] = { secure: "v1:AAAA" };
      c[k("workloads")] = { ...section(c, "workloads"), gatewayClassName: "istio" };
    });
    const ok = parseStackConfig(readStackFile(file, "staging"));
    expect(ok.ok ? ok.config.cluster : ok.problems).toEqual({ mode: "existing", context: "platform", gatewaySourceCidrs: ["10.0.0.0/24"] });
    // Or a context of the deploying machine's own kubeconfig, without a kubeconfig secret.
    const contextOnly = parseStackConfig(
      readStackFile(
        editedStackFile("staging", (c) => {
          c[k("cluster")] = { mode: "existing", context: "ci-cluster", gatewaySourceCidrs: ["10.0.0.0/24"] };
          c[k("workloads")] = { ...section(c, "workloads"), gatewayClassName: "istio" };
        }),
        "staging",
      ),
    );
    expect(contextOnly.ok ? contextOnly.config.cluster : contextOnly.problems).toEqual({
      mode: "existing",
      context: "ci-cluster",
      gatewaySourceCidrs: ["10.0.0.0/24"],
    });
    // The Gateway's sources are its proxies, never the internet; a GatewayClass is an API name, and GKE's in any case.
    const wide = existing({ mode: "existing", context: "platform", gatewaySourceCidrs: ["10.0.0.0/24", "0.0.0.0/0", "0.0.0.0/1"] }, (c) => {
      c[k("workloads")] = { ...section(c, "workloads"), gatewayClassName: "GKE-L7-RILB/../x y" };
    });
    expect(wide.map((p) => p.key).sort()).toEqual(
      [k("cluster.gatewaySourceCidrs[1]"), k("cluster.gatewaySourceCidrs[2]"), k("workloads.gatewayClassName"), k("workloads.gatewayClassName")].sort(),
    );
    expect(wide.find((p) => p.key === k("cluster.gatewaySourceCidrs[1]"))!.problem).toMatch(/^0\.0\.0\.0\/0 admits \(nearly\) every address/);
    const shouting = existing({ mode: "existing", context: "platform", gatewaySourceCidrs: ["10.0.0.0/24"] }, (c) => {
      c[k("workloads")] = { ...section(c, "workloads"), gatewayClassName: "GKE-l7-rilb" };
    });
    expect(shouting.every((p) => p.key === k("workloads.gatewayClassName"))).toBe(true);
    expect(shouting.map((p) => p.problem)).toContainEqual(expect.stringContaining("is a GKE GatewayClass"));
    // A GKE stack has no kubeconfig of its own to set.
    expect(problemsOf("staging", (c) => void (c[k("kubeconfig")] = { secure: "v1:AAAA" }))).toEqual([
      expect.objectContaining({ key: k("kubeconfig"), problem: expect.stringContaining("only for cluster.mode existing") }),
    ]);
  });

  it("cluster.mode existing: a kubeconfig that cannot reach the cluster is refused at config load, never quoted", () => {
    const TOKEN = "tok-3f9c2a7d-SENSITIVE";
    const source = (kubeconfig: string, context?: string) => {
      const file = editedStackFile("staging", (c) => {
        c[k("cluster")] = { mode: "existing", ...(context ? { context } : {}), gatewaySourceCidrs: ["10.0.0.0/24"] };
        c[k("kubeconfig")] = { secure: "v1:AAAA" };
        c[k("workloads")] = { ...section(c, "workloads"), gatewayClassName: "istio" };
      });
      const read = readStackFile(file, "staging");
      return parseStackConfig({ ...read, values: { ...read.values, kubeconfig } });
    };
    const good = [
      "apiVersion: v1",
      "current-context: ci",
      "clusters: [{ name: local, cluster: { server: 'https://127.0.0.1:6443' } }]",
      "contexts: [{ name: ci, context: { cluster: local, user: deployer } }, { name: other, context: { cluster: local, user: deployer } }]",
      `users: [{ name: deployer, user: { token: ${TOKEN} } }]`,
    ].join("\n");
    expect(source(good).ok).toBe(true);
    expect(source(good, "other").ok).toBe(true);
    const problems = (kubeconfig: string, context?: string) => {
      const r = source(kubeconfig, context);
      if (r.ok) throw new Error("expected the kubeconfig to be refused");
      expect(JSON.stringify(r.problems)).not.toContain(TOKEN);
      return r.problems.map((p) => [p.key, p.problem]);
    };
    expect(problems(good, "nosuch")).toEqual([[k("cluster.context"), 'has no context "nosuch" (its contexts: ci, other)']]);
    expect(problems(good.replace(`token: ${TOKEN} }`, `token: ${TOKEN}\n   bad: [indent }`))).toEqual([
      [k("kubeconfig"), "is not a kubeconfig: it does not parse as a YAML or JSON mapping"],
    ]);
    expect(problems(TOKEN)).toEqual([[k("kubeconfig"), "is not a kubeconfig: it does not parse as a YAML or JSON mapping"]]);
    expect(problems("{}")).toEqual([[k("kubeconfig"), "names no current-context: set cluster.context to one of its contexts (none)"]]);
    expect(problems(good.replace("cluster: local, user: deployer } }, {", "cluster: gone, user: deployer } }, {"))).toEqual([
      [k("kubeconfig"), 'context "ci" names cluster "gone", which it does not define (its clusters: local)'],
    ]);
    expect(problems(good.replace("user: deployer } }, {", "user: nobody } }, {"))).toEqual([
      [k("kubeconfig"), 'context "ci" names user "nobody", which it does not define (its users: deployer)'],
    ]);
  });

  it("two agent services with one name: an error naming both entries", () => {
    const problems = problemsOf("staging", (c) => {
      const w = section(c, "workloads");
      const services = w["services"] as Record<string, unknown>[];
      w["services"] = [...services, { ...services[1], port: 9090 }];
    });
    expect(problems).toEqual([
      expect.objectContaining({
        key: k("workloads.services[2].name"),
        problem: '"memory" is also the name of workloads.services[1]: each agent service needs its own name',
      }),
    ]);
  });

  it("a release that could never promote is refused: bake longer than the step limit, stepCriteria of the wrong type", () => {
    const bake = problemsOf("production", (c) => {
      c[k("release")] = { bakeSeconds: 3600, maxStepSeconds: 600 };
    });
    expect(bake.map((p) => [p.key, p.problem])).toEqual([
      [k("release.bakeSeconds"), "must not exceed release.maxStepSeconds (3600 > 600): no step could pass before its limit ends it"],
    ]);
    const criteria = problemsOf("production", (c) => {
      c[k("release")] = { analysis: { stepCriteria: { "10": { errorRate: "high", p95LatencyMs: 100 }, fifty: { errorRate: 0.01, p95LatencyMs: 100 } } } };
    });
    expect(criteria.map((p) => p.key)).toEqual(
      expect.arrayContaining([k("release.analysis.stepCriteria.10.errorRate"), k("release.analysis.stepCriteria.fifty")]),
    );
    expect(criteria.find((p) => p.key.endsWith(".errorRate"))!.problem).toBe('expected number (found "high")');
  });

  it("a blue-green release on the HTTPRoutes needs the Gateway's hostname: without it the mandatory smoke gate could only fail", () => {
    const problems = problemsOf("staging", (c) => void delete section(c, "workloads")["hostname"]);
    expect(problems.map((p) => [p.key, p.problem])).toEqual([
      [
        k("workloads.hostname"),
        expect.stringContaining(
          "a blue-green release on the HTTPRoutes smoke-tests and health-checks each candidate slot at http://<hostname>/<service>/slots/<slot>",
        ),
      ],
    ]);
  });

  it("Vercel's stages only move forward; a follower gets manual advancement by default and refuses automatic", () => {
    const backwards = problemsOf("production", (c) => {
      c[k("frontend")] = {
        ...section(c, "frontend"),
        rollingRelease: { advancementType: "manual-approval", stages: [{ targetPercentage: 25 }, { targetPercentage: 10 }, { targetPercentage: 100 }] },
      };
    });
    expect(backwards.map((p) => [p.key, p.problem])).toEqual([
      [k("frontend.rollingRelease.stages[1].targetPercentage"), "must be greater than the stage before it (10 after 25): stages only move traffic forward"],
    ]);
    const followerWith = (rollingRelease: Record<string, unknown> | undefined) => {
      const file = editedStackFile("production", (c) => {
        c[k("frontend")] = { ...section(c, "frontend"), deployments: { stable: "dpl_a", canary: "dpl_b" }, ...(rollingRelease ? { rollingRelease } : {}) };
      });
      return parseStackConfig(readStackFile(file, "production"));
    };
    const defaulted = followerWith(undefined);
    expect(defaulted.ok && defaulted.config.frontend.rollingRelease?.advancementType).toBe("manual-approval");
    const chosen = followerWith({ advancementType: "automatic", stages: [{ targetPercentage: 5, durationMinutes: 5 }, { targetPercentage: 100 }] });
    expect(chosen.ok ? [] : chosen.problems.map((p) => p.key)).toEqual([k("frontend.rollingRelease.advancementType")]);
    // Vercel serves its first stage as soon as it starts: never ahead of the backend's first step (5%).
    const leading = followerWith({ advancementType: "manual-approval", stages: [{ targetPercentage: 50 }, { targetPercentage: 100 }] });
    expect(leading.ok ? [] : leading.problems.map((p) => [p.key, p.problem])).toEqual([
      [
        k("frontend.rollingRelease.stages[0].targetPercentage"),
        "50% is more than the backend's first step (5%): the frontend would lead the backend; start Vercel's stages at 5% or less",
      ],
    ]);
    // Where no follower is wired (staging's blue-green on the HTTPRoutes), deployments would be ignored: refused.
    const ignored = problemsOf("staging", (c) => void (c[k("frontend")] = { ...section(c, "frontend"), deployments: { stable: "dpl_a", canary: "dpl_b" } }));
    expect(ignored.map((p) => p.key)).toContain(k("frontend.deployments"));
  });

  it("https is checked on the parsed scheme: HTTP:// in capitals is plain http too", () => {
    const problems = problemsOf("production", (c) => {
      c[k("release")] = {
        manualApproval: true,
        approval: { source: "http", url: "HTTP://approvals.example.com/answer", timeoutSeconds: 600 },
        webhooks: [{ name: "gate", type: "confirm-rollout", url: "HtTp://hooks.example.com/gate" }],
      };
      c[k("releaseWebhookSecret")] = { secure: "v1:AAAA" };
    });
    expect(problems.map((p) => p.key)).toEqual([k("release.webhooks[0].url"), k("release.approval.url")]);
    expect(problems[0]!.problem).toContain("production sends webhooks over https only");
  });

  it("a key set as a secret that the program does not keep secret is refused, and its value never shown", () => {
    // `pulumi config set --path --secret release.webhooks[0].url ...` makes the whole `release` key secret.
    const source = parseStackConfig({
      stack: "production",
      origin: "Pulumi.production.yaml",
      values: {
        release: JSON.stringify({ webhooks: [{ name: "g", type: "post-rollout", url: "https://hooks.example.com/SENTINEL_PATH_TOKEN" }] }),
        backend: JSON.stringify({ image: "SENTINEL_SECRET_IMAGE" }),
      },
      secretKeys: new Set(["release", "backend"]),
    });
    expect(source.ok).toBe(false);
    if (source.ok) return;
    expect(source.problems.map((p) => p.key)).toEqual([k("backend"), k("release")]);
    expect(source.problems[0]!.problem).toMatch(
      /^is set as a secret, but this program keeps only vercelApiToken, .*releaseWebhookSecret, kubeconfig secret; .* plaintext/,
    );
    expect(JSON.stringify(source.problems)).not.toMatch(/SENTINEL/);
  });

  it("a `__proto__` key is reported, also where zod's records would drop it silently", () => {
    const file = readStackFile(stackFile("production"), "production");
    const values = { ...file.values, release: '{"analysis": {"stepCriteria": {"__proto__": {"errorRate": 0.5, "p95LatencyMs": 100}}}}' };
    const result = parseStackConfig({ ...file, values });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toContainEqual(
      expect.objectContaining({ key: k("release.analysis.stepCriteria.__proto__"), problem: expect.stringContaining("`__proto__` is not a key") }),
    );
  });

  it("workloads never go into default or a kube-* namespace", () => {
    for (const namespace of ["kube-system", "kube-public", "default"]) {
      const problems = problemsOf("production", (c) => {
        c[k("workloads")] = { ...section(c, "workloads"), namespace };
      });
      expect(problems).toContainEqual(expect.objectContaining({ key: k("workloads.namespace"), problem: expect.stringContaining("belong to the cluster") }));
    }
  });

  it("staging and production webhooks go over https and are signed: releaseWebhookSecret is required, as a secret", () => {
    const problems = problemsOf("production", (c) => {
      c[k("release")] = { webhooks: [{ name: "gate", type: "confirm-rollout", url: "http://hooks.example.com/release" }] };
    });
    expect(problems.map((p) => [p.key, p.problem])).toEqual([
      [k("release.webhooks[0].url"), "production sends webhooks over https only (found http://hooks.example.com/…)"],
      [
        k("releaseWebhookSecret"),
        expect.stringContaining("production signs its release webhooks: set a secret with `pulumi config set --secret releaseWebhookSecret <value>`"),
      ],
    ]);
    const plain = problemsOf("production", (c) => {
      c[k("release")] = { webhooks: [{ name: "gate", type: "confirm-rollout", url: "https://hooks.example.com/release" }] };
      c[k("releaseWebhookSecret")] = "not-a-secret-value-123";
    });
    expect(plain).toEqual([
      expect.objectContaining({ key: k("releaseWebhookSecret"), problem: expect.stringContaining("must be set with `pulumi config set --secret`") }),
    ]);
    expect(JSON.stringify(plain)).not.toContain("not-a-secret-value-123");
    // Short is refused here, with the key, not later by the TrafficSplit in a preview; the value stays unshown.
    const file = readStackFile(stackFile("production"), "production");
    const short = parseStackConfig({
      ...file,
      values: { ...file.values, releaseWebhookSecret: "SENTINEL-short" },
      secretKeys: new Set([...file.secretKeys, "releaseWebhookSecret"]),
    });
    expect(short.ok ? [] : short.problems.map((p) => [p.key, p.problem])).toEqual([
      [k("releaseWebhookSecret"), "must be at least 16 characters (it keys the webhooks' HMAC signature)"],
    ]);
  });
});
