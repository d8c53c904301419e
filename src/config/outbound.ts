import { isIP } from "node:net";

/**
 * What an outbound URL of this program may be (pure): the release's
 * webhooks and approval endpoint. A URL is not a secret store (no user
 * info, no credential-named query parameters, no URL that is itself a
 * credential), never points at a cloud metadata service or a link-local
 * address, and in staging and production uses https. A host allow-list,
 * when configured, is the only set of hosts allowed.
 */

/** Hosts whose webhook URLs are credentials in themselves (the path is the token). */
const CREDENTIAL_URL_HOSTS = [
  /^hooks\.slack(-gov)?\.com$/,
  /^((canary|ptb)\.)?(discord|discordapp)\.com$/,
  /(^|\.)webhook\.office\.com$/,
  /^outlook\.office\.com$/,
  /^hooks\.zapier\.com$/,
];
/** Query parameter names that carry credentials, after lower-casing, dropping `[]` and reading `-` as `_`. */
const CREDENTIAL_PARAMS = /(token|secret|signature|password|passwd|credential|api_?key|jwt|bearer|session)|(^|_)(auth|authorization|key|sig|pwd|pass|code)s?$/;
const credentialParam = (name: string) => CREDENTIAL_PARAMS.test(name.toLowerCase().replace(/\[\]$/, "").replace(/-/g, "_"));
/** Cloud metadata services by name (GCP, AWS, Azure, Alibaba, Oracle). */
const METADATA_HOSTS = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal", "metadata.azure.com"]);

/** The eight 16-bit groups of an IPv6 address (as URL parsing writes it: no dotted tail except ::ffff:a.b.c.d). */
function ipv6Groups(a: string): number[] | undefined {
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  let text = a;
  if (dotted) {
    const [o1, o2, o3, o4] = dotted[2]!.split(".").map(Number) as [number, number, number, number];
    text = `${dotted[1]}${((o1 << 8) | o2).toString(16)}:${((o3 << 8) | o4).toString(16)}`;
  }
  const [head, tail, extra] = text.split("::");
  if (extra !== undefined) return undefined;
  const part = (p: string | undefined) => (p ? p.split(":").map((g) => parseInt(g, 16)) : []);
  const h = part(head);
  const t = part(tail);
  const fill = tail === undefined ? [] : Array<number>(8 - h.length - t.length).fill(0);
  const groups = [...h, ...fill, ...t];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * IPv6 prefixes whose last 32 bits are an IPv4 address a packet may end up at:
 * IPv4-compatible (::/96), IPv4-mapped (::ffff:0:0/96), SIIT (::ffff:0:0:0/96)
 * and the NAT64 well-known prefix (64:ff9b::/96).
 */
const EMBEDS_IPV4: readonly (readonly number[])[] = [
  [0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 0xffff],
  [0, 0, 0, 0, 0xffff, 0],
  [0x64, 0xff9b, 0, 0, 0, 0],
];

/** A literal address that is link-local (169.254.0.0/16, fe80::/10) or a known metadata address, in any of its spellings. */
export function forbiddenAddress(address: string): string | undefined {
  const a = address.replace(/^\[|\]$/g, "").toLowerCase();
  const kind = isIP(a);
  if (kind === 4) {
    const [o1, o2] = a.split(".").map(Number);
    if (o1 === 169 && o2 === 254) return "a link-local address (169.254.0.0/16, where cloud metadata services answer)";
    // Alibaba's metadata service and Azure's wire server.
    if (a === "100.100.100.200" || a === "168.63.129.16") return "a cloud metadata address";
  }
  if (kind === 6) {
    const g = ipv6Groups(a);
    if (!g) return undefined;
    if ((g[0]! & 0xffc0) === 0xfe80) return "a link-local address (fe80::/10)";
    // AWS's and GCP's IPv6 metadata addresses.
    if (
      [
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
        [0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254],
      ].some((m) => m.join(":") === g.join(":"))
    )
      return "a cloud metadata address";
    // The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) translates its last 32 bits too.
    if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return forbiddenAddress(`${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`);
    if (EMBEDS_IPV4.some((p) => p.every((x, i) => g[i] === x))) {
      return forbiddenAddress(`${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`);
    }
  }
  return undefined;
}

/** localhost, 127.0.0.0/8 or ::1: a local test server, never another machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname
    .replace(/^\[|\]$/g, "")
    .toLowerCase()
    .replace(/\.$/, "");
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  return isIP(h) === 6 && ipv6Groups(h)?.join(":") === "0:0:0:0:0:0:0:1";
}

/** http: in any spelling (the scheme is case-insensitive: `HTTP://` is plain http too). */
export function isPlainHttp(text: string): boolean {
  return URL.canParse(text) && new URL(text).protocol === "http:";
}

export interface OutboundRules {
  /** https only (staging and production). */
  httpsOnly: boolean;
  /** When given, the only hosts allowed (exact names, or "*.example.com" for subdomains). */
  allowedHosts?: readonly string[];
}

const hostAllowed = (host: string, allowed: readonly string[]) =>
  allowed.some((h) => (h.startsWith("*.") ? host.endsWith(h.slice(1)) : host === h.toLowerCase()));

/** Why this URL may not be called, or undefined when it may. */
export function outboundUrlProblem(text: string, rules: OutboundRules): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return `uses ${url.protocol.replace(/:$/, "")}: only https (or http outside staging and production)`;
  if (rules.httpsOnly && url.protocol !== "https:") return "uses http: staging and production send webhooks over https only";
  if (url.username || url.password)
    return "carries credentials in the URL (user:password@): put the secret in releaseWebhookSecret (an HMAC signature) instead";
  if (url.hash) return "has a fragment (#...): it is never sent, and may hold a token; remove it";
  const params = [...new Set(url.searchParams.keys())].filter(credentialParam);
  if (params.length > 0) return `carries a credential in its query (${params.join(", ")}): put the secret in releaseWebhookSecret (an HMAC signature) instead`;
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (CREDENTIAL_URL_HOSTS.some((h) => h.test(host)))
    return `is a ${host} webhook, whose URL is itself a credential: it would be stored in plaintext; send release events through an endpoint you authenticate with releaseWebhookSecret`;
  if (METADATA_HOSTS.has(host)) return `names a cloud metadata service (${host})`;
  const bad = forbiddenAddress(host);
  if (bad) return `points at ${bad}`;
  if (rules.allowedHosts && !hostAllowed(host, rules.allowedHosts))
    return `host ${host} is not in release.webhookAllowedHosts (${rules.allowedHosts.join(", ")})`;
  return undefined;
}

/** The services our tokens are for: a request carrying one goes there over https, or to a loopback test server. */
export const TOKEN_AUDIENCES = {
  google: { hosts: /(^|\.)googleapis\.com$/, named: "*.googleapis.com" },
  vercel: { hosts: /^api\.vercel\.com$/, named: "api.vercel.com" },
} as const;

/** Why a request carrying a `token` token may not go to this URL, or undefined when it may. */
export function tokenDestinationProblem(text: string, token: keyof typeof TOKEN_AUDIENCES): string | undefined {
  if (!URL.canParse(text)) return "is not a URL";
  const url = new URL(text);
  if (isLoopbackHost(url.hostname)) return undefined;
  const { hosts, named } = TOKEN_AUDIENCES[token];
  if (url.protocol !== "https:" || !hosts.test(url.hostname.toLowerCase().replace(/\.$/, "")))
    return `would receive a ${token} token: it goes only over https to ${named} (or to a loopback test server)`;
  return undefined;
}

/**
 * A URL as an error message may show it: scheme and host, and "/…" for a
 * path. User info, query and fragment can hold a credential, and so can a
 * path (Slack, Discord and bot URLs are tokens in their path).
 */
export function shownUrl(text: string): string {
  if (!URL.canParse(text)) return JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text);
  const u = new URL(text);
  const rest = u.pathname.length > 1 || u.search || u.hash ? "/…" : u.pathname;
  return `${u.protocol}//${u.host}${rest}`;
}

/** Text that a parser takes for a URL with credentials or a host (not "blue:green"): shown through shownUrl. */
export function looksLikeUrl(text: string): boolean {
  return URL.canParse(text) && (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || /^(https?|wss?|ftp):/i.test(text) || text.includes("@"));
}
