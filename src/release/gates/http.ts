import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { forbiddenAddress } from "../../config/outbound";

/**
 * The one HTTP client for the release's own outbound calls (webhooks, the
 * approval endpoint). It never follows a redirect (a 3xx is an answer, not
 * a new destination), it refuses to connect to a link-local or metadata
 * address whatever the name resolves to (checked on the address it
 * connects to, so DNS cannot smuggle one in), and every request is bounded
 * in time and in the size of the answer it reads.
 */
export interface HttpAnswer {
  status: number;
  location?: string;
  body: string;
}

const MAX_BODY = 64 * 1024;

/**
 * A service path on an arm's base URL, kept under the base's own path: the
 * HTTPRoute slots are reached at https://host/<service>/slots/<slot>, so
 * `/health` there is .../slots/<slot>/health, not https://host/health.
 */
export function pathOn(base: string, path: string): URL {
  const b = new URL(base);
  return new URL(`${b.origin}${b.pathname.replace(/\/+$/, "")}${path}`);
}

/** A lookup that fails for forbidden addresses: used for the connection itself. */
function guardedLookup(
  hostname: string,
  options: object,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const list = addresses;
    const bad = list.map((a) => ({ a, why: forbiddenAddress(a.address) })).find((x) => x.why);
    if (bad) return callback(Object.assign(new Error(`${hostname} resolves to ${bad.a.address}, ${bad.why}: refused`), { code: "EFORBIDDEN" }), []);
    const all = (options as { all?: boolean }).all;
    if (all) return callback(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
}

export function sendRequest(
  method: "GET" | "POST",
  url: string,
  opts: { body?: string; headers?: Record<string, string>; timeoutMs: number },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const literal = forbiddenAddress(u.hostname);
    if (literal) return reject(new Error(`${u.hostname} is ${literal}: refused`));
    const make = u.protocol === "https:" ? httpsRequest : httpRequest;
    const req = make(
      u,
      {
        method,
        headers: { ...(opts.headers ?? {}), ...(opts.body !== undefined ? { "content-length": String(Buffer.byteLength(opts.body)) } : {}) },
        lookup: guardedLookup,
        timeout: opts.timeoutMs,
      },
      (res: IncomingMessage) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          if (body.length < MAX_BODY) body += d.slice(0, MAX_BODY - body.length);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}), body }));
        res.on("error", reject);
      },
    );
    const deadline = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { name: "TimeoutError" })), opts.timeoutMs);
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { name: "TimeoutError" })));
    req.on("error", (e) => (clearTimeout(deadline), reject(e)));
    req.on("close", () => clearTimeout(deadline));
    req.end(opts.body);
  });
}
