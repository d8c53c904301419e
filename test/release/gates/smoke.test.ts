import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { releaseDefaults } from "../../../src/config/defaults";
import { ReleaseConfig } from "../../../src/config/schema";
import { runSmokeTests } from "../../../src/release/gates/smoke";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** An HTTP-only service (no WebSocket) that answers 200 on exactly these paths, 404 elsewhere; records what it was asked. */
async function service(ok: string[]) {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? "");
    res.writeHead(ok.includes(req.url ?? "") ? 200 : 404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, asked };
}

/** Staging's smoke tests as the stack config parses them, with `smokeTests` overrides. */
function smokeOf(overrides: Record<string, unknown>) {
  const defaults = releaseDefaults("staging", { strategy: "blue-green" }) as { smokeTests: Record<string, unknown> };
  const r = ReleaseConfig.parse({ ...defaults, smokeTests: { ...defaults.smokeTests, ...overrides } });
  return { ...r.smokeTests, retries: 0 };
}

describe("smoke tests", () => {
  it("the default WebSocket check fails an HTTP-only service; websocketPath: null turns it off", async () => {
    const svc = await service(["/health", "/ready"]);
    const defaults = await runSmokeTests(svc.base, smokeOf({}), { baseDelayMs: 1 });
    expect(defaults.passed).toBe(false);
    expect(defaults.results.find((r) => r.check === "WS /ws")).toMatchObject({ ok: false, critical: true });
    const off = await runSmokeTests(svc.base, smokeOf({ websocketPath: null }), { baseDelayMs: 1 });
    expect(off.results.map((r) => [r.check, r.ok])).toEqual([
      ["GET /health", true],
      ["GET /ready", true],
    ]);
    expect(off.passed).toBe(true);
  });

  it("paths are taken under the candidate URL's own path (a slot served at /<service>/slots/<slot>)", async () => {
    const svc = await service(["/orchestrator/slots/green/health", "/orchestrator/slots/green/ready"]);
    const r = await runSmokeTests(`${svc.base}/orchestrator/slots/green/`, smokeOf({ websocketPath: null }), { baseDelayMs: 1 });
    expect(r.passed).toBe(true);
    expect(svc.asked).toEqual(["/orchestrator/slots/green/health", "/orchestrator/slots/green/ready"]);
  });

  it("a path that is not a path is refused by the schema, null is not a path anywhere else", () => {
    expect(() => smokeOf({ websocketPath: "//evil.example.com/ws" })).toThrow(/a path such as \/health/);
    expect(() => smokeOf({ paths: null })).toThrow();
  });
});
