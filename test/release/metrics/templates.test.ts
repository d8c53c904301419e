import { describe, expect, it } from "vitest";
import { metricName, TEMPLATES } from "../../../src/release/metrics/prometheus";

describe("metric templates", () => {
  it("HAProxy: requests and errors per server, undelivered requests counted as both, latency in seconds", () => {
    const t = TEMPLATES.haproxy("be_app");
    expect(t.requests[0]).toBe('haproxy_server_http_responses_total{proxy="be_app",server="{{revision}}"}');
    expect(t.errors[0]).toBe('haproxy_server_http_responses_total{proxy="be_app",server="{{revision}}",code="5xx"}');
    const undelivered = ["connection_errors_total", "response_errors_total", "retry_warnings_total", "redispatch_warnings_total"];
    // What the source queries: the template with the revision filled in.
    const queried = (list: string[]) => list.slice(1).map((x) => metricName(x.replace("{{revision}}", "blue")));
    for (const list of [t.requests, t.errors]) expect(queried(list)).toEqual(undelivered.map((m) => `haproxy_server_${m}`));
    expect(t.latencyUnit).toBe("s");
  });

  it("Cloud Run: per revision of the named service, 5xx as errors, latency buckets in ms", () => {
    const t = TEMPLATES.cloudRun("ws-backend");
    expect(t.requests).toHaveLength(1);
    expect(t.requests[0]).toContain('service_name="ws-backend"');
    expect(t.requests[0]).toContain('revision_name="{{revision}}"');
    expect(t.errors[0]).toContain('response_code_class="5xx"');
    expect(metricName(t.latencyBuckets!.replace("{{revision}}", "ws-00001"))).toBe("run_googleapis_com:request_latencies_bucket");
    expect(t.latencyUnit).toBe("ms");
  });

  it.each([
    ['http_requests_total{job="x"}', "http_requests_total"],
    ["  up  ", "up"],
    ['run_googleapis_com:request_count{a="b"}', "run_googleapis_com:request_count"],
    ['sum(rate(http_requests_total{job="x"}[1m]))', undefined],
    ['a{b="c"} or d', undefined],
    ["9lives", undefined],
    ["", undefined],
  ])("metricName(%j) is %j", (selector, name) => {
    expect(metricName(selector)).toBe(name);
  });
});
