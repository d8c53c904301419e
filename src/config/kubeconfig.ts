import { parseDocument } from "yaml";
import { UNDECRYPTED } from "./secretPlaceholder";

interface Kubeconfig {
  "current-context"?: unknown;
  contexts?: unknown;
  clusters?: unknown;
  users?: unknown;
}
type Named = { name?: unknown; context?: { cluster?: unknown; user?: unknown }; cluster?: { server?: unknown } };

/** A kubeconfig's document, or undefined when it is not one. Nothing of the text ever reaches a message or a warning. */
export function parseKubeconfig(text: string): Kubeconfig | undefined {
  const doc = parseDocument(text, { logLevel: "silent", prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) return undefined;
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
}

const named = (list: unknown): Named[] => (Array.isArray(list) ? list.filter((x): x is Named => typeof x === "object" && x !== null) : []);
const names = (list: Named[]) => list.map((x) => String(x.name)).join(", ") || "none";

/**
 * Why a kubeconfig cannot reach a cluster at `context` (default: its
 * current-context), or undefined when it can: it parses, the context exists,
 * and so do the cluster (with a server) and the user it names. Found here,
 * at config load, rather than by the provider halfway through an update.
 * Messages name contexts, clusters and users, never a value of the file.
 */
export function kubeconfigProblem(text: string, context: string | undefined): string | undefined {
  if (text === UNDECRYPTED) return undefined;
  const doc = parseKubeconfig(text);
  if (!doc) return "is not a kubeconfig: it does not parse as a YAML or JSON mapping";
  const contexts = named(doc.contexts);
  const wanted = context ?? (typeof doc["current-context"] === "string" ? doc["current-context"] : undefined);
  if (!wanted) return `names no current-context: set cluster.context to one of its contexts (${names(contexts)})`;
  const ctx = contexts.find((c) => c.name === wanted);
  if (!ctx) return `has no context "${wanted}" (its contexts: ${names(contexts)})`;
  const clusters = named(doc.clusters);
  const cluster = clusters.find((c) => c.name === ctx.context?.cluster);
  if (!cluster)
    return `context "${wanted}" names cluster ${JSON.stringify(ctx.context?.cluster ?? null)}, which it does not define (its clusters: ${names(clusters)})`;
  if (typeof cluster.cluster?.server !== "string" || cluster.cluster.server === "") return `cluster "${String(cluster.name)}" has no server`;
  const users = named(doc.users);
  if (ctx.context?.user !== undefined && !users.some((u) => u.name === ctx.context?.user))
    return `context "${wanted}" names user ${JSON.stringify(ctx.context.user)}, which it does not define (its users: ${names(users)})`;
  return undefined;
}
