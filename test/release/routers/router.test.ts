import { describe, expect, it } from "vitest";
import { httpError, MAX_RETRY_AFTER_MS, split, targetIdOf } from "../../../src/release/routers/router";

describe("the routers' shared pieces", () => {
  it.each([
    // status, Retry-After, retryable, hint (ms)
    [undefined, null, true, undefined], // no answer at all
    [409, null, true, undefined],
    [429, "3", true, 3000],
    [503, "0.5", true, 500],
    [503, "86400", true, MAX_RETRY_AFTER_MS], // a day is a server bug: capped
    [503, "0", true, undefined],
    [503, "-5", true, undefined],
    [503, "Wed, 21 Oct 2026 07:28:00 GMT", true, undefined], // a date is not seconds: no hint
    [500, "", true, undefined],
    [400, "10", false, undefined], // not worth retrying: its hint is dropped
    [403, null, false, undefined],
    [404, null, false, undefined],
    [422, null, false, undefined],
  ] as const)("HTTP %s with Retry-After %j: retryable %s, hint %s", (status, retryAfter, retryable, hint) => {
    const e = httpError("patch httproute apps/web", status, "detail", retryAfter);
    expect(e.retryable).toBe(retryable);
    expect(e.retryAfterMs).toBe(hint);
    expect(e.message).toBe(`patch httproute apps/web: ${status !== undefined ? `HTTP ${status} ` : ""}detail`);
  });

  it.each([
    [{ kind: "haproxy", runtimeApi: "127.0.0.1:9999", backend: "be_app" }, "haproxy:127.0.0.1:9999/be_app"],
    [{ kind: "cloud-run", project: "p", region: "europe-west1", service: "ws" }, "cloud-run:projects/p/locations/europe-west1/services/ws"],
    [{ kind: "http-route", namespace: "agents", name: "web", ruleIndex: 1 }, "http-route:agents/web#1"],
  ] as const)("targetIdOf(%j) = %s", (t, id) => {
    expect(targetIdOf(t)).toBe(id);
  });

  it.each([
    [0, 0, 100],
    [10, 10, 90],
    [33.4, 33, 67],
    [33.5, 34, 66],
    [100, 100, 0],
    [-5, 0, 100],
    [250, 100, 0],
  ])("split(%d) = %d candidate / %d stable", (weight, candidate, stable) => {
    expect(split(weight)).toEqual({ candidate, stable });
  });
});
