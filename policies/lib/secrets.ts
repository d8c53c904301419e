/**
 * Does a name or a value look like a secret? Names: *_KEY, *_TOKEN,
 * *_SECRET, PASSWORD and friends. Values: known credential formats, or long
 * high-entropy strings. URLs, booleans and numbers are not secrets.
 */
const SECRET_NAME = /(^|[_\-.])(API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|SECRET_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|PWD|CREDENTIALS?|AUTH)($|[_\-.])/i;
/** Names ending in these are not secrets even though they contain KEY or TOKEN. */
const NOT_SECRET_NAME = /(_ID|_URL|_URI|_HOST|_PORT|_NAME|_REGION|_PATH|_FILE|_ENDPOINT|PUBLIC_KEY|_KEY_ID)$/i;

export function secretLikeName(name: string): boolean {
  if (/^NEXT_PUBLIC_/i.test(name)) return false;
  return SECRET_NAME.test(name) && !NOT_SECRET_NAME.test(name);
}

/** Credential formats with a recognisable shape (prefixes documented by their issuers). */
export const KNOWN_KEY_FORMATS: readonly { name: string; pattern: RegExp }[] = [
  { name: "Google API key", pattern: /\bAIza[0-9A-Za-z_-]{35}\b/ },
  { name: "Google service-account key", pattern: /"type"\s*:\s*"service_account"|-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----/ },
  { name: "AWS access key id", pattern: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { name: "GitHub token", pattern: /\bgh[pousr]_[0-9A-Za-z]{36,}\b|\bgithub_pat_[0-9A-Za-z_]{40,}\b/ },
  { name: "Slack token or webhook", pattern: /\bxox[abposr]-[0-9A-Za-z-]{10,}\b|hooks\.slack\.com\/services\/[A-Z0-9]+\/[A-Z0-9]+\/[A-Za-z0-9]+/ },
  { name: "Stripe secret key", pattern: /\b[rs]k_(live|test)_[0-9A-Za-z]{16,}\b/ },
  { name: "JSON Web Token", pattern: /\beyJ[0-9A-Za-z_-]{8,}\.eyJ[0-9A-Za-z_-]{8,}\.[0-9A-Za-z_-]{8,}\b/ },
  { name: "URL with embedded credentials", pattern: /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i },
];

/** Shannon entropy in bits per character. */
export function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** Why a value looks like a secret, or undefined. */
export function secretLikeValue(value: string): string | undefined {
  for (const f of KNOWN_KEY_FORMATS) if (f.pattern.test(value)) return `looks like a ${f.name}`;
  const v = value.trim();
  // Plain words, URLs without credentials, paths and numbers are configuration, not secrets.
  if (v.length < 24 || /\s/.test(v) || /^[a-z][a-z0-9+.-]*:\/\//i.test(v) || /^[./]/.test(v) || /^[0-9.]+$/.test(v)) return undefined;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(v)).length;
  if (classes >= 3 && entropy(v) >= 4.0) return `is a high-entropy string (${entropy(v).toFixed(1)} bits/char)`;
  return undefined;
}

/** Why a name/value pair must be a secret reference, or undefined. */
export function secretReason(name: string, value: unknown): string | undefined {
  if (secretLikeName(name) && typeof value === "string" && value !== "") return `its name looks like a secret`;
  if (typeof value === "string") {
    const why = secretLikeValue(value);
    if (why) return `its value ${why}`;
  }
  return undefined;
}
