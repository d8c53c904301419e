import { describe, expect, it } from "vitest";
import { deepMerge, releaseDefaults } from "../../../src/config/defaults";
import { TrafficSplitInputs } from "../../../src/release/provider/inputs";

/** A valid split on an HAProxy target, to break one field at a time. */
const valid = () => ({
  environment: "production",
  stable: "blue",
  candidate: "green",
  release: deepMerge(releaseDefaults("production", { strategy: "canary" }), {}),
  target: { kind: "haproxy", runtimeApi: "127.0.0.1:9999", backend: "be_app", stateFile: "state.json" },
  metrics: {
    url: "http://127.0.0.1:9090",
    preset: "haproxy",
    scope: "be_app",
    templates: { latencyBuckets: 'h_bucket{slot="{{revision}}"}', latencyUnit: "s" },
  },
});
const problems = (i: unknown) => {
  const r = TrafficSplitInputs.safeParse(i);
  return r.success ? [] : r.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`);
};

describe("TrafficSplit inputs (the provider's one parse)", () => {
  it("a valid split parses", () => {
    expect(problems(valid())).toEqual([]);
  });

  it("a metrics template that does not name {{revision}} is refused: both arms would read the same series", () => {
    const i = valid();
    i.metrics.templates.latencyBuckets = "h_bucket";
    expect(problems(i)).toEqual([
      "metrics.templates.latencyBuckets: h_bucket does not name {{revision}}: it would read the same series for both arms, so every comparison would pass",
    ]);
    expect(problems({ ...valid(), metrics: { ...valid().metrics, templates: { requests: ['a{s="{{revision}}"}', "b_total"] } } })).toEqual([
      expect.stringMatching(/^metrics\.templates\.requests: b_total does not name \{\{revision\}\}/),
    ]);
  });

  it("HAProxy names are identifiers; paths are paths; outside dev the approval endpoint is https", () => {
    expect(problems({ ...valid(), candidate: "green;disable server be_app/blue" })).toEqual([
      expect.stringMatching(/^candidate: with an haproxy target, stable and candidate are server names/),
    ]);
    expect(problems({ ...valid(), target: { ...valid().target, backend: "be app" } })).toEqual([
      expect.stringMatching(/^target\.backend: an HAProxy identifier/),
    ]);
    expect(problems({ ...valid(), healthPath: "//evil.example.com/x" })).toEqual([expect.stringMatching(/^healthPath: a path such as \/health/)]);
    const release = {
      ...(valid().release as Record<string, unknown>),
      approval: { source: "http", url: "http://approvals.example.com/x", timeoutSeconds: 60 },
    };
    expect(problems({ ...valid(), release })).toEqual(["release.approval.url: production asks the approval endpoint over https only"]);
    expect(problems({ ...valid(), environment: "dev", release })).toEqual([]);
    // The scheme is case-insensitive: HTTP:// is plain http.
    const upper = {
      ...(valid().release as Record<string, unknown>),
      approval: { source: "http", url: "HTTP://approvals.example.com/x", timeoutSeconds: 60 },
      webhooks: [{ name: "g", type: "confirm-rollout", url: "Http://hooks.example.com/g" }],
    };
    expect(problems({ ...valid(), release: upper })).toEqual([
      "release.webhooks.0.url: production sends webhooks over https only",
      "release.approval.url: production asks the approval endpoint over https only",
    ]);
  });

  it("a Google token goes only over https to *.googleapis.com, a Vercel token only to api.vercel.com (or a loopback test server)", () => {
    const google = (url: string) => problems({ ...valid(), metrics: { ...valid().metrics, url, auth: "google" } });
    expect(google("https://monitoring.googleapis.com/v1/projects/p/location/global/prometheus")).toEqual([]);
    expect(google("http://127.0.0.1:9090")).toEqual([]);
    expect(google("http://monitoring.googleapis.com/v1/")).toEqual([
      "metrics.url: http://monitoring.googleapis.com/… would receive a google token: it goes only over https to *.googleapis.com (or to a loopback test server)",
    ]);
    expect(google("https://prometheus.example.net/")).toEqual([expect.stringContaining("would receive a google token")]);
    expect(google("https://googleapis.com.evil.example.net/")).toEqual([expect.stringContaining("would receive a google token")]);
    const cloudRun = (endpoint: string) =>
      problems({ ...valid(), target: { kind: "cloud-run", project: "acme-dev", region: "europe-west1", service: "s", endpoint } });
    expect(cloudRun("https://run.googleapis.com")).toEqual([]);
    expect(cloudRun("https://run.example.net")).toEqual([
      expect.stringMatching(/^target\.endpoint: https:\/\/run\.example\.net\/ would receive a google token/),
    ]);
    const follower = (endpoint: string) =>
      problems({
        ...valid(),
        followers: [{ kind: "vercel", projectId: "prj", token: "SENTINEL_VERCEL", canaryDeploymentId: "c", stableDeploymentId: "s", endpoint }],
      });
    expect(follower("https://api.vercel.com")).toEqual([]);
    expect(follower("http://evil.example.net/")).toEqual([
      "followers.0.endpoint: http://evil.example.net/ would receive a vercel token: it goes only over https to api.vercel.com (or to a loopback test server)",
    ]);
    expect(JSON.stringify(follower("http://evil.example.net/"))).not.toContain("SENTINEL");
  });

  it("names that land in an API path are what real names can be: no path walking into another project's service", () => {
    const cloudRun = (t: Record<string, unknown>) =>
      problems({ ...valid(), target: { kind: "cloud-run", project: "acme-dev", region: "europe-west1", service: "ws-backend", ...t } });
    expect(cloudRun({})).toEqual([]);
    expect(cloudRun({ service: "x/../../../../../acme-delivery-prod/locations/europe-west1/services/ws-backend" })).toEqual([
      expect.stringMatching(/^target\.service: a Cloud Run service name/),
    ]);
    expect(cloudRun({ project: "acme/../prod" })).toEqual([expect.stringMatching(/^target\.project: a GCP project id/)]);
    expect(cloudRun({ region: "europe-west99" })).toEqual([expect.stringMatching(/^target\.region: /)]);
    const route = { kind: "http-route", namespace: "agents", name: "orchestrator", stableBackend: "orchestrator-blue", candidateBackend: "orchestrator-green" };
    expect(
      problems({ ...valid(), stable: "orchestrator-blue", candidate: "orchestrator-green", target: { ...route, namespace: "agents/../kube-system" } }),
    ).toEqual([expect.stringMatching(/^target\.namespace: a Kubernetes name/)]);
  });

  it("an http-route target moves the Services of stable and candidate, not other names", () => {
    const route = { kind: "http-route", namespace: "agents", name: "orchestrator", stableBackend: "orchestrator-blue", candidateBackend: "orchestrator-green" };
    const ok = { ...valid(), stable: "orchestrator-blue", candidate: "orchestrator-green", target: route };
    expect(problems(ok)).toEqual([]);
    expect(problems({ ...ok, candidate: "orchestrator-canary" })).toEqual([
      expect.stringMatching(/^target: with an http-route target, stableBackend and candidateBackend are the Services of stable and candidate/),
    ]);
  });

  it("no URL of a split points at a metadata service or a link-local address, or carries credentials", () => {
    expect(problems({ ...valid(), metrics: { ...valid().metrics, url: "http://[::ffff:a9fe:a9fe]/computeMetadata/v1/" } })).toEqual([
      expect.stringMatching(/^metrics\.url: .*link-local/),
    ]);
    expect(problems({ ...valid(), target: { ...valid().target, candidateUrl: "http://169.254.169.254/" } })).toEqual([
      expect.stringMatching(/^target\.candidateUrl: .*link-local/),
    ]);
    expect(problems({ ...valid(), target: { ...valid().target, stableUrl: "http://metadata.google.internal/" } })).toEqual([
      expect.stringMatching(/^target\.stableUrl: .*metadata service/),
    ]);
    const leaked = problems({ ...valid(), metrics: { ...valid().metrics, url: "https://u:SENTINEL_PW@prom.example.net/" } });
    expect(leaked).toEqual([expect.stringMatching(/^metrics\.url: .*carries credentials/)]);
    expect(JSON.stringify(leaked)).not.toContain("SENTINEL");
  });
});
