/**
 * What a rollback redeploys, decided from a stack's history (pure: no I/O).
 * Pulumi's history is the release registry: every update records the
 * configuration it ran with and the git commit it ran from.
 */

/** One config value as Pulumi's history and `pulumi config --json` give it. */
export interface ConfigEntry {
  value?: string;
  secret?: boolean;
}
export type ConfigMap = Record<string, ConfigEntry>;

/** The parts of an update summary (Automation API `UpdateSummary`) the rollback and the delivery report read. */
export interface HistoryEntry {
  version?: number;
  kind: string;
  result: string;
  startTime: Date | string;
  endTime?: Date | string;
  message?: string;
  config?: ConfigMap;
  environment?: Record<string, string>;
}

export type Choice = { ok: true; current: HistoryEntry; target: HistoryEntry } | { ok: false; problem: string };

const succeeded = (e: HistoryEntry) => e.kind === "update" && e.result === "succeeded";

/**
 * Update numbers as people read them: Pulumi Cloud's versions, or, where
 * the backend records none (a file or bucket backend reports 0), 1, 2, …
 * counted from the oldest update. `history` is newest first.
 */
export const numbered = (history: readonly HistoryEntry[]): HistoryEntry[] =>
  history.map((e, i) => ({ ...e, version: e.version !== undefined && e.version > 0 ? e.version : history.length - i }));

/**
 * The update to return to: `to` when given (it must be a successful
 * update), else the last successful update before the newest one.
 * `raw` is newest first, as Pulumi returns it.
 */
export function chooseUpdate(stack: string, raw: readonly HistoryEntry[], to?: number): Choice {
  const history = numbered(raw);
  const current = history[0];
  if (!current) return { ok: false, problem: `stack ${stack} has no updates in its history: there is nothing to roll back to` };
  if (to !== undefined) {
    const target = history.find((e) => e.version === to);
    if (!target) return { ok: false, problem: `stack ${stack} has no update ${to} (its history has ${history.map((e) => e.version).join(", ")})` };
    if (!succeeded(target))
      return {
        ok: false,
        problem: `update ${to} of stack ${stack} did not succeed (${target.kind}: ${target.result}): only a successful update can be redeployed`,
      };
    if (target === current) return { ok: false, problem: `update ${to} is already the newest update of stack ${stack}` };
    return withConfig(stack, current, target);
  }
  const target = history.slice(1).find(succeeded);
  if (!target) return { ok: false, problem: `stack ${stack} has no successful update before update ${current.version ?? "?"}` };
  return withConfig(stack, current, target);
}

function withConfig(stack: string, current: HistoryEntry, target: HistoryEntry): Choice {
  if (!target.config || Object.keys(target.config).length === 0) {
    return { ok: false, problem: `update ${target.version ?? "?"} of stack ${stack} recorded no configuration: it cannot be redeployed as it was` };
  }
  return { ok: true, current, target };
}

/**
 * The target's configuration as the CLI takes it back: the plaintext keys
 * as one `pulumi config set-all --json` argument (JSON values go back as
 * objects, not strings), and the secrets apart, to be set one by one with
 * their value on stdin. A command line is visible to every local user
 * (ps, /proc): no secret may be on one.
 */
export function configForCli(config: ConfigMap): { json: string; secrets: [key: string, value: string][] } {
  type Entry = { value: string; secret: false; objectValue?: unknown };
  const out: Record<string, Entry> = {};
  const secrets: [string, string][] = [];
  for (const [key, e] of Object.entries(config)) {
    const value = e.value ?? "";
    if (e.secret === true) {
      secrets.push([key, value]);
      continue;
    }
    const entry: Entry = { value, secret: false };
    if (/^\s*[[{]/.test(value)) {
      try {
        entry.objectValue = JSON.parse(value);
      } catch {
        // Not JSON after all: a plain string that starts with a bracket.
      }
    }
    out[key] = entry;
  }
  return { json: JSON.stringify(out), secrets };
}

/** One line per key that differs; secret values are never shown. */
export function configChanges(current: ConfigMap, target: ConfigMap): string[] {
  const lines: string[] = [];
  const show = (e: ConfigEntry | undefined) => (e === undefined ? "(unset)" : e.secret ? "[secret]" : JSON.stringify(e.value ?? ""));
  for (const key of [...new Set([...Object.keys(current), ...Object.keys(target)])].sort()) {
    const [a, b] = [current[key], target[key]];
    if (a?.value === b?.value && Boolean(a?.secret) === Boolean(b?.secret)) continue;
    const secret = a?.secret || b?.secret;
    lines.push(secret ? `${key}: [secret] changes` : `${key}: ${show(a)} -> ${show(b)}`);
  }
  return lines;
}

/**
 * Of the files that differ between the target's commit and the working
 * tree, those that change what the program does (stack config files and
 * docs do not: the config comes from history).
 */
export const programFiles = (changed: readonly string[]): string[] =>
  changed.filter((f) => f.trim() !== "" && !/(^|\/)Pulumi\.[^/]+\.yaml$/.test(f) && !/\.md$/i.test(f));
