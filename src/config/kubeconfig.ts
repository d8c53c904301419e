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

/** A context of a kubeconfig with the cluster and user it names, as far as the file defines them. */
function contextOf(doc: Kubeconfig | undefined, context: string | undefined) {
  const name = context ?? (typeof doc?.["current-context"] === "string" ? doc["current-context"] : undefined);
  const contexts = named(doc?.contexts);
  const clusters = named(doc?.clusters);
  const users = named(doc?.users);
  const ctx = contexts.find((c) => c.name === name);
  const cluster = clusters.find((c) => c.name === ctx?.context?.cluster);
  return { name, contexts, clusters, users, ctx, cluster, server: typeof cluster?.cluster?.server === "string" ? cluster.cluster.server : undefined };
}

/**
 * Why a kubeconfig cannot reach a cluster at `context` (default: its
 * current-context), or undefined when it can: it parses, the context exists,
 * and so do the cluster (with a server) and the user it names. Found here,
 * at config load, rather than by the provider halfway through an update.
 * Messages name contexts, clusters and users, never a value of the file;
 * `key` is the config key to correct.
 */
export function kubeconfigProblem(text: string, context: string | undefined): { key: "kubeconfig" | "cluster.context"; message: string } | undefined {
  if (text === UNDECRYPTED) return undefined;
  const doc = parseKubeconfig(text);
  if (!doc) return { key: "kubeconfig", message: "is not a kubeconfig: it does not parse as a YAML or JSON mapping" };
  const { name, contexts, clusters, users, ctx, cluster, server } = contextOf(doc, context);
  if (!name) return { key: "kubeconfig", message: `names no current-context: set cluster.context to one of its contexts (${names(contexts)})` };
  if (!ctx) return { key: "cluster.context", message: `has no context "${name}" (its contexts: ${names(contexts)})` };
  if (!cluster)
    return {
      key: "kubeconfig",
      message: `context "${name}" names cluster ${JSON.stringify(ctx.context?.cluster ?? null)}, which it does not define (its clusters: ${names(clusters)})`,
    };
  if (!server) return { key: "kubeconfig", message: `cluster "${String(cluster.name)}" has no server` };
  if (ctx.context?.user !== undefined && !users.some((u) => u.name === ctx.context?.user))
    return {
      key: "kubeconfig",
      message: `context "${name}" names user ${JSON.stringify(ctx.context.user)}, which it does not define (its users: ${names(users)})`,
    };
  return undefined;
}

/** The context a kubeconfig deploys to and its server (undecryptable offline: a placeholder stays a placeholder). */
export function targetOf(text: string, context: string | undefined): { context: string; server: string } {
  const { name, server } = contextOf(parseKubeconfig(text), context);
  return { context: name ?? "(current-context)", server: server ?? "(unknown)" };
}
