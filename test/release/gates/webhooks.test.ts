import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { outboundUrlProblem } from "../../../src/config/outbound";
import { ReleaseConfig } from "../../../src/config/schema";
import { callWebhooks, SIGNATURE_HEADER, signature, TIMESTAMP_HEADER, type WebhookConfig } from "../../../src/release/gates/webhooks";

/** Local receivers on loopback, recording what they were sent. */
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
async function receiver(answer: (req: IncomingMessage, body: string) => { status: number; headers?: Record<string, string> }) {
  const seen: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const server = createServer(
    (req, res) =>
      void (async () => {
        let body = "";
        for await (const c of req) body += c;
        seen.push({ headers: req.headers, body });
        const a = answer(req, body);
        res.writeHead(a.status, a.headers ?? {});
        res.end();
      })(),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}
const hook = (url: string, type: WebhookConfig["type"] = "confirm-rollout", timeoutSeconds = 5): WebhookConfig => ({ name: "gate", type, url, timeoutSeconds });
const payload = { stable: "v1", candidate: "v2", weight: 0, metadata: {} };

describe("release webhooks (outbound, authenticated)", () => {
  it("signs every body with the release's secret so the receiver can authenticate it", async () => {
    const secret = "a-long-webhook-secret-0123456789";
    const r = await receiver((req, body) => ({
      status: req.headers[SIGNATURE_HEADER] === signature(secret, String(req.headers[TIMESTAMP_HEADER]), body) ? 200 : 401,
    }));
    expect(await callWebhooks([hook(r.url)], "confirm-rollout", payload, secret)).toMatchObject({ passed: true });
    expect(r.seen[0]!.headers[SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(Math.abs(Number(r.seen[0]!.headers[TIMESTAMP_HEADER]) - Date.now() / 1000)).toBeLessThan(60);
    // A receiver with another secret refuses: the gate fails.
    const other = await receiver((req, body) => ({
      status: req.headers[SIGNATURE_HEADER] === signature("another-secret-0123456789", String(req.headers[TIMESTAMP_HEADER]), body) ? 200 : 401,
    }));
    expect(await callWebhooks([hook(other.url)], "confirm-rollout", payload, secret)).toEqual({ passed: false, detail: "gate: HTTP 401" });
  });

  it("never follows a redirect: a 307 to another host is a no, and that host is never called", async () => {
    const elsewhere = await receiver(() => ({ status: 200 }));
    const r = await receiver(() => ({ status: 307, headers: { location: `${elsewhere.url}/steal` } }));
    const out = await callWebhooks([hook(r.url)], "confirm-rollout", payload);
    expect(out.passed).toBe(false);
    expect(out.detail).toMatch(/^gate: HTTP 307 redirect to 127\.0\.0\.1:\d+ \(redirects are not followed\)$/);
    expect(elsewhere.seen).toHaveLength(0);
  });

  it("refuses a link-local or metadata address at run time too, without connecting", async () => {
    const out = await callWebhooks([hook("http://169.254.169.254/computeMetadata/v1/")], "confirm-rollout", payload);
    expect(out).toEqual({
      passed: false,
      detail: "gate: 169.254.169.254 is a link-local address (169.254.0.0/16, where cloud metadata services answer): refused",
    });
  });

  it("a receiver that does not answer in time is a no; notifications never block", async () => {
    const slow = createServer(() => undefined);
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    servers.push(slow);
    const url = `http://127.0.0.1:${(slow.address() as { port: number }).port}`;
    const t0 = Date.now();
    expect(await callWebhooks([hook(url, "confirm-rollout", 1)], "confirm-rollout", payload)).toEqual({ passed: false, detail: "gate: no answer within 1 s" });
    expect(Date.now() - t0).toBeLessThan(3_000);
    slow.closeAllConnections();
  });
});

describe("outbound URL rules (config)", () => {
  it.each([
    ["https://user:pass@hooks.example.com/x", /carries credentials in the URL/],
    ["https://hooks.example.com/x?token=abc", /carries a credential in its query \(token\)/],
    ["https://hooks.example.com/x?api_key=abc&x=1", /carries a credential in its query \(api_key\)/],
    ["https://hooks.slack.com/services/T0/B0/XXXX", /is a hooks\.slack\.com webhook, whose URL is itself a credential/],
    ["http://metadata.google.internal/computeMetadata/v1/", /names a cloud metadata service/],
    ["http://169.254.169.254/latest/meta-data/", /link-local/],
    ["http://[fe80::1]/x", /link-local address \(fe80::\/10\)/],
    ["http://[::ffff:169.254.169.254]/x", /link-local/],
    ["ftp://files.example.com/x", /uses ftp/],
    // Every spelling of an embedded IPv4 metadata address: compatible, mapped in hex, SIIT, NAT64.
    ["https://[::169.254.169.254]/", /link-local/],
    ["https://[::a9fe:a9fe]/", /link-local/],
    ["https://[::ffff:0:a9fe:a9fe]/", /link-local/],
    ["https://[64:ff9b::a9fe:a9fe]/", /link-local/],
    ["https://[64:ff9b::100.100.100.200]/", /metadata address/],
    ["https://[FE80:0:0:0:0:0:0:1]/", /link-local address \(fe80::\/10\)/],
    ["https://[fd00:ec2:0::254]/", /metadata address/],
    // Credential parameters by any common name, in brackets, with dashes, in any case.
    ["https://hooks.example.com/x?client_secret=abc", /in its query \(client_secret\)/],
    ["https://hooks.example.com/x?private_token=abc", /in its query \(private_token\)/],
    ["https://hooks.example.com/x?access-token=abc", /in its query \(access-token\)/],
    ["https://hooks.example.com/x?X-Amz-Signature=abc", /in its query \(X-Amz-Signature\)/],
    ["https://hooks.example.com/x?token[]=abc", /in its query \(token\[\]\)/],
    ["https://hooks.example.com/x#token=abc", /has a fragment/],
    ["https://[fd20:ce::254]/", /metadata address/],
    ["https://168.63.129.16/", /metadata address/],
    ["https://[64:ff9b:1::a9fe:a9fe]/", /link-local/],
    ["https://hooks.example.com/x?jwt=a", /in its query \(jwt\)/],
    ["https://hooks.example.com/x?bearer=a", /in its query \(bearer\)/],
    ["https://hooks.example.com/x?session_id=a", /in its query \(session_id\)/],
    ["https://hooks.example.com/x?pass=a", /in its query \(pass\)/],
    ["https://canary.discord.com/api/webhooks/1/abc", /canary\.discord\.com webhook/],
    ["https://ptb.discord.com/api/webhooks/1/abc", /ptb\.discord\.com webhook/],
    ["https://hooks.slack-gov.com/services/T0/B0/X", /hooks\.slack-gov\.com webhook/],
  ])("%s is refused", (url, message) => {
    expect(outboundUrlProblem(url, { httpsOnly: false })).toMatch(message);
  });

  it.each(["https://hooks.example.com/x?author=me&zipcode=1", "https://[2001:db8::a9fe:a9fe]/", "https://[::1]:8443/", "https://10.0.0.8/x"])(
    "%s is allowed (no credential, no link-local)",
    (url) => {
      expect(outboundUrlProblem(url, { httpsOnly: true })).toBeUndefined();
    },
  );

  it("a refused URL is never echoed with its query or user info", () => {
    const r = ReleaseConfig.safeParse({
      strategy: "direct",
      target: "cloud-run",
      smokeTests: { paths: ["/health"], retries: 0, failFast: true },
      webhooks: [{ name: "x", type: "post-rollout", url: "https://hooks.example.com/x?client_secret=SENTINEL_Q#frag" }],
    });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).not.toContain("SENTINEL_Q");
    expect(r.error!.issues[0]!.message).toMatch(/^https:\/\/hooks\.example\.com\/… has a fragment/);
    // A path can be the credential itself (chat webhooks, bot URLs): never shown either.
    const slack = ReleaseConfig.safeParse({
      strategy: "direct",
      target: "cloud-run",
      smokeTests: { paths: ["/health"], retries: 0, failFast: true },
      webhooks: [{ name: "x", type: "post-rollout", url: "https://hooks.slack.com/services/T0SECRET/B0SECRET/XXXXSECRETTOKENXXXX" }],
    });
    expect(JSON.stringify(slack.error!.issues)).not.toContain("SECRET");
  });

  it("https only where asked, and only allowed hosts when a list is given", () => {
    expect(outboundUrlProblem("http://hooks.example.com/x", { httpsOnly: true })).toMatch(/over https only/);
    expect(outboundUrlProblem("https://hooks.example.com/x", { httpsOnly: true })).toBeUndefined();
    expect(outboundUrlProblem("https://evil.example.org/x", { httpsOnly: true, allowedHosts: ["hooks.example.com", "*.ops.example.com"] })).toMatch(
      /host evil\.example\.org is not in release\.webhookAllowedHosts/,
    );
    expect(outboundUrlProblem("https://a.ops.example.com/x", { httpsOnly: true, allowedHosts: ["*.ops.example.com"] })).toBeUndefined();
  });

  it("the release schema refuses such webhooks by key, and holds them to the allow-list", () => {
    const base = { strategy: "direct", target: "cloud-run", smokeTests: { paths: ["/health"], retries: 0, failFast: true } };
    const bad = ReleaseConfig.safeParse({ ...base, webhooks: [{ name: "slack", type: "post-rollout", url: "https://hooks.slack.com/services/T0/B0/XXXX" }] });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({ path: ["webhooks", 0, "url"], message: expect.stringContaining("whose URL is itself a credential") });
    const masked = ReleaseConfig.safeParse({ ...base, webhooks: [{ name: "x", type: "post-rollout", url: "https://bob:hunter2@hooks.example.com/x" }] });
    expect(JSON.stringify(masked.error!.issues)).not.toContain("hunter2");
    const listed = ReleaseConfig.safeParse({
      ...base,
      webhookAllowedHosts: ["hooks.example.com"],
      webhooks: [{ name: "x", type: "post-rollout", url: "https://other.example.com/x" }],
    });
    expect(listed.error!.issues[0]).toMatchObject({ path: ["webhooks", 0, "url"], message: expect.stringContaining("not in release.webhookAllowedHosts") });
  });
});
