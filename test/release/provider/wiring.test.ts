import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { deepMerge, releaseDefaults } from "../../../src/config/defaults";
import { TrafficSplitInputs } from "../../../src/release/provider/inputs";
import { depsFor } from "../../../src/release/provider/wiring";
import type { Router } from "../../../src/release/routers/router";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A private service: 403 without the expected bearer token (as Cloud Run's IAM check answers), 200 with it. */
async function privateService(token: string) {
  const seen: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(req.headers.authorization === `Bearer ${token}` ? 200 : 403).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

const inputs = () =>
  TrafficSplitInputs.parse({
    environment: "dev",
    stable: "blue",
    candidate: "green",
    release: deepMerge(releaseDefaults("dev", { strategy: "direct" }), { smokeTests: { paths: ["/health", "/ready"], websocketPath: null, retries: 0 } }),
    target: { kind: "haproxy", runtimeApi: "127.0.0.1:1", backend: "be_app", stateFile: "state.json" },
    metrics: { url: "http://127.0.0.1:1", preset: "haproxy", scope: "be_app" },
  });

/** Only what the gates ask of a router: the candidate's URL and the headers a request to it carries. */
const routerAt = (url: string, headers?: Record<string, string>) =>
  ({
    description: "test router",
    target: "test",
    candidateUrl: async () => url,
    stableUrl: async () => undefined,
    ...(headers ? { callerHeaders: async () => headers } : {}),
  }) as unknown as Router;

describe("the gates' requests to the candidate carry the router's caller headers", () => {
  it("smoke tests and the health gate pass on a private service with the ID token, and fail closed without it", async () => {
    const svc = await privateService("id-token");
    const withToken = await depsFor(inputs(), routerAt(svc.url, { authorization: "Bearer id-token" }), () => undefined);
    expect(await withToken.runGate("smoke", { stable: "blue", candidate: "green", weight: 0 })).toMatchObject({ passed: true });
    expect(await withToken.runGate("candidate-health", { stable: "blue", candidate: "green", weight: 100 })).toEqual({
      passed: true,
      detail: "GET /health: 200",
    });
    expect(svc.seen.every((h) => h === "Bearer id-token")).toBe(true);
    const without = await depsFor(inputs(), routerAt(svc.url), () => undefined);
    expect(await without.runGate("smoke", { stable: "blue", candidate: "green", weight: 0 })).toMatchObject({
      passed: false,
      detail: expect.stringContaining("status 403"),
    });
    expect(await without.runGate("candidate-health", { stable: "blue", candidate: "green", weight: 100 })).toEqual({
      passed: false,
      detail: "GET /health: 403",
    });
  });
});
