import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readApproval } from "../../../src/release/gates/approval";

const dir = mkdtempSync(join(tmpdir(), "approval-"));
const servers: Server[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

describe("approval sources (a held release's answer)", () => {
  it("a file: no file is no answer; an answer for another release is ignored; garbage is an error naming the file", async () => {
    const path = join(dir, "approval.json");
    const source = { source: "file" as const, path, timeoutSeconds: 60 };
    const attempt = "v1->v2@2026-11-27T10:00:00.000Z";
    expect(await readApproval(source, attempt)).toBeUndefined();
    // An answer left from an earlier attempt at the same slots (blue->green again) approves nothing.
    writeFileSync(path, JSON.stringify({ release: "v1->v2@2026-11-20T10:00:00.000Z", decision: "approve", by: "alice" }));
    expect(await readApproval(source, attempt)).toBeUndefined();
    writeFileSync(path, JSON.stringify({ release: "v1->v2@2026-11-27T10:00:00.000Z", decision: "reject", by: "bob" }));
    expect(await readApproval(source, attempt)).toEqual({ approved: false, by: "bob" });
    writeFileSync(path, `{"release": "${attempt}", "decision": "yes please"}`);
    await expect(readApproval(source, attempt)).rejects.toThrow(
      /approval file .*approval\.json: decision: .*; by: .* \(expected \{"release", "decision": "approve"\|"reject", "by"\}\)/,
    );
    writeFileSync(path, "not json");
    await expect(readApproval(source, attempt)).rejects.toThrow(/is not JSON/);
  });

  it("an endpoint: asked with the release attempt; 404 is no answer yet; a redirect is not followed", async () => {
    const asked: string[] = [];
    let answer: { status: number; body?: string; location?: string } = { status: 404 };
    const server = createServer((req, res) => {
      asked.push(req.url ?? "");
      res.writeHead(answer.status, answer.location ? { location: answer.location } : {});
      res.end(answer.body ?? "");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push(server);
    const source = { source: "http" as const, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/approvals`, timeoutSeconds: 60 };
    const attempt = "v1->v2@2026-11-27T10:00:00.000Z";
    expect(await readApproval(source, attempt)).toBeUndefined();
    expect(asked[0]).toBe(`/approvals?release=${encodeURIComponent(attempt)}`);
    answer = { status: 200, body: JSON.stringify({ release: attempt, decision: "approve", by: "carol" }) };
    expect(await readApproval(source, attempt)).toEqual({ approved: true, by: "carol" });
    answer = { status: 302, location: "http://127.0.0.1:1/elsewhere" };
    await expect(readApproval(source, attempt)).rejects.toThrow("HTTP 302 (redirects are not followed)");
  });
});
