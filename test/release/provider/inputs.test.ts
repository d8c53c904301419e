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
  metrics: { url: "http://127.0.0.1:9090", preset: "haproxy", scope: "be_app", templates: { latencyBuckets: 'h_bucket{slot="{{revision}}"}', latencyUnit: "s" } },
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
    expect(problems(i)).toEqual(["metrics.templates.latencyBuckets: h_bucket does not name {{revision}}: it would read the same series for both arms, so every comparison would pass"]);
    expect(problems({ ...valid(), metrics: { ...valid().metrics, templates: { requests: ['a{s="{{revision}}"}', "b_total"] } } })).toEqual([expect.stringMatching(/^metrics\.templates\.requests: b_total does not name \{\{revision\}\}/)]);
  });

  it("HAProxy names are identifiers; paths are paths; outside dev the approval endpoint is https", () => {
    expect(problems({ ...valid(), candidate: "green;disable server be_app/blue" })).toEqual([expect.stringMatching(/^candidate: with an haproxy target, stable and candidate are server names/)]);
    expect(problems({ ...valid(), target: { ...valid().target, backend: "be app" } })).toEqual([expect.stringMatching(/^target\.backend: an HAProxy identifier/)]);
    expect(problems({ ...valid(), healthPath: "//evil.example.com/x" })).toEqual([expect.stringMatching(/^healthPath: a path such as \/health/)]);
    const release = { ...(valid().release as Record<string, unknown>), approval: { source: "http", url: "http://approvals.example.com/x", timeoutSeconds: 60 } };
    expect(problems({ ...valid(), release })).toEqual(["release.approval.url: production asks the approval endpoint over https only"]);
    expect(problems({ ...valid(), environment: "dev", release })).toEqual([]);
  });
});
