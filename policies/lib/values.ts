import { known, read } from "./policy";

/**
 * The elements of a list that are known during preview. A list of inputs
 * can mix known values with computed ones (an email from a service account
 * being created); reading a computed element throws, so each is read alone
 * and the computed ones are left for the check at update time.
 */
export function knownElements<T>(list: readonly T[] | undefined | null): NonNullable<T>[] {
  if (!Array.isArray(list)) return [];
  const items = list as readonly T[];
  const out: NonNullable<T>[] = [];
  const length = known(() => items.length) ?? 0;
  for (let i = 0; i < length; i++) {
    const v = known(() => items[i]);
    if (v !== undefined && v !== null) out.push(v);
  }
  return out;
}

/**
 * An address range that is the internet, or so much of it that it might as
 * well be: any address (0.0.0.0/0, ::/0, "*", a bare 0.0.0.0 or ::), an IPv4
 * range wider than /8 or an IPv6 range wider than /16 (0.0.0.0/1 and
 * 128.0.0.0/1 are the whole internet in two entries; 2000::/3 is all of
 * IPv6's global space). 10.0.0.0/8 and narrower are left to the rules on names.
 */
export function isInternetWide(cidr: string): boolean {
  const c = cidr.trim();
  if (c === "*" || ["0.0.0.0", "::", "::0"].includes(c)) return true;
  const m = /^(.+)\/(\d{1,3})$/.exec(c);
  if (!m) return false;
  const prefix = Number(m[2]);
  return m[1]!.includes(":") ? prefix < 16 : prefix < 8;
}

/** A list property as far as it is known: [] when absent, its known elements, or undefined when the list itself is computed. */
export function knownList<T>(f: () => readonly T[] | undefined | null): NonNullable<T>[] | undefined {
  const r = read(f);
  if (r.kind === "unknown") return undefined;
  return r.kind === "absent" ? [] : knownElements(r.value);
}
