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
