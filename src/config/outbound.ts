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
const CREDENTIAL_URL_HOSTS = [/^hooks\.slack\.com$/, /^(discord|discordapp)\.com$/, /(^|\.)webhook\.office\.com$/, /^outlook\.office\.com$/, /^hooks\.zapier\.com$/];
const CREDENTIAL_PARAMS = /^(token|access_token|api[_-]?key|key|secret|sig|signature|password|passwd|pwd|auth|authorization|code|credential)s?$/i;
/** Cloud metadata services by name (GCP, AWS, Azure, Alibaba, Oracle). */
const METADATA_HOSTS = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal", "metadata.azure.com"]);

/** A literal address that is link-local (169.254.0.0/16, fe80::/10) or a known metadata address. */
export function forbiddenAddress(address: string): string | undefined {
  const a = address.replace(/^\[|\]$/g, "").toLowerCase();
  const kind = isIP(a);
  if (kind === 4) {
    const [o1, o2] = a.split(".").map(Number);
    if (o1 === 169 && o2 === 254) return "a link-local address (169.254.0.0/16, where cloud metadata services answer)";
    if (a === "100.100.100.200") return "a cloud metadata address";
  }
  if (kind === 6) {
    if (/^fe[89ab][0-9a-f]:/.test(a)) return "a link-local address (fe80::/10)";
    if (a === "fd00:ec2::254") return "a cloud metadata address";
    // IPv4-mapped (::ffff:a.b.c.d, which URL parsing writes as ::ffff:XXXX:XXXX): judged as the IPv4 address.
    const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    if (dotted) return forbiddenAddress(dotted[1]!);
    const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
    if (hex) {
      const [hi, lo] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
      return forbiddenAddress(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
  }
  return undefined;
}

export interface OutboundRules {
  /** https only (staging and production). */
  httpsOnly: boolean;
  /** When given, the only hosts allowed (exact names, or "*.example.com" for subdomains). */
  allowedHosts?: readonly string[];
}

const hostAllowed = (host: string, allowed: readonly string[]) => allowed.some((h) => (h.startsWith("*.") ? host.endsWith(h.slice(1)) : host === h.toLowerCase()));

/** Why this URL may not be called, or undefined when it may. */
export function outboundUrlProblem(text: string, rules: OutboundRules): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `uses ${url.protocol.replace(/:$/, "")}: only https (or http outside staging and production)`;
  if (rules.httpsOnly && url.protocol !== "https:") return "uses http: staging and production send webhooks over https only";
  if (url.username || url.password) return "carries credentials in the URL (user:password@): put the secret in releaseWebhookSecret (an HMAC signature) instead";
  const params = [...url.searchParams.keys()].filter((k) => CREDENTIAL_PARAMS.test(k));
  if (params.length > 0) return `carries a credential in its query (${params.join(", ")}): put the secret in releaseWebhookSecret (an HMAC signature) instead`;
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (CREDENTIAL_URL_HOSTS.some((h) => h.test(host))) return `is a ${host} webhook, whose URL is itself a credential: it would be stored in plaintext; send release events through an endpoint you authenticate with releaseWebhookSecret`;
  if (METADATA_HOSTS.has(host)) return `names a cloud metadata service (${host})`;
  const bad = forbiddenAddress(host);
  if (bad) return `points at ${bad}`;
  if (rules.allowedHosts && !hostAllowed(host, rules.allowedHosts)) return `host ${host} is not in release.webhookAllowedHosts (${rules.allowedHosts.join(", ")})`;
  return undefined;
}
