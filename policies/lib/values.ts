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

/** A list property as far as it is known: [] when absent, its known elements, or undefined when the list itself is computed. */
export function knownList<T>(f: () => readonly T[] | undefined | null): NonNullable<T>[] | undefined {
  const r = read(f);
  if (r.kind === "unknown") return undefined;
  return r.kind === "absent" ? [] : knownElements(r.value);
}
