import { connect } from "node:net";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { processGone } from "../liveness";
import { fromWeights, type LiveSplit } from "../split";
import { RouterError, split, targetIdOf, type CheckpointWrite, type DrainPlan, type RollbackResult, type Router } from "./router";
import { withRetry, type RetryPolicy, DEFAULT_RETRY } from "./retry";

export interface HaproxyTarget {
  /** Runtime API address: "127.0.0.1:9999" (stats socket ipv4@…) or a unix socket path. */
  runtimeApi: string;
  backend: string;
  stableServer: string;
  candidateServer: string;
  /** The rollout checkpoint lives in this file beside HAProxy's config. */
  stateFile: string;
  /** Where the candidate answers directly (smoke tests, health, probe), e.g. "http://127.0.0.1:8102". */
  candidateUrl?: string;
  /** Where stable answers directly (the WebSocket probe's comparison arm). */
  stableUrl?: string;
  timeoutMs?: number;
}

/**
 * HAProxy's identifier characters (proxy and server names: letters, digits,
 * '-', '_', '.', ':'). Anything else could end one runtime-API command and
 * start another (`green;disable server be_app/blue`), so it never reaches the socket.
 */
export const HAPROXY_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

function assertName(kind: string, name: string) {
  if (!HAPROXY_NAME.test(name))
    throw new RouterError(
      `HAProxy ${kind} name ${JSON.stringify(name)} is not an HAProxy identifier (letters, digits, '-', '_', '.', ':'); refusing to send it to the runtime API`,
      false,
    );
}

/** Sends one command to HAProxy's runtime API and returns its answer (non-interactive mode). */
export function runtimeCommand(address: string, command: string, timeoutMs = 3000): Promise<string> {
  if (/[\n\r;]/.test(command))
    return Promise.reject(new RouterError(`refusing to send a runtime-API command with a separator in it: ${JSON.stringify(command)}`, false));
  return new Promise((resolve, reject) => {
    const m = /^(.+):(\d+)$/.exec(address);
    const socket = m && !address.startsWith("/") ? connect({ host: m[1]!, port: Number(m[2]) }) : connect({ path: address });
    let out = "";
    const timer = setTimeout(
      () => socket.destroy(new RouterError(`HAProxy runtime API ${address} did not answer "${command}" within ${timeoutMs} ms`, true)),
      timeoutMs,
    );
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.end(`${command}\n`));
    socket.on("data", (d: string) => (out += d));
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e instanceof RouterError ? e : new RouterError(`HAProxy runtime API ${address}: ${e.message}`, true));
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** HAProxy answers errors in text; success of `set weight` is an empty answer. */
function expectEmpty(command: string, answer: string) {
  const text = answer.trim();
  if (text.length > 0) throw new RouterError(`HAProxy refused "${command}": ${text}`, /try again|resource|busy/i.test(text));
}

type ServerWeight = [server: string, weight: number];

/**
 * A server's share of the split is its weight unless a person took it out
 * (admin state: maintenance or drain). Its health (op state, set by
 * HAProxy's own checks) does not change the split the release asked for: a
 * candidate marked DOWN still holds its weight, and its failures are the
 * analysis' business (a rollback), not a change someone made.
 */
interface ServerState {
  name: string;
  weight: number;
  inService: boolean;
}

/** Parses `show servers state BACKEND` (format 1): srv_name, srv_admin_state, srv_uweight. */
export function parseServersState(answer: string, backend: string): ServerState[] {
  const lines = answer.split("\n").map((l) => l.trim());
  if (!lines.some((l) => l.startsWith("# be_id")))
    throw new RouterError(
      `HAProxy answered "${answer.trim().slice(0, 120)}" to show servers state ${backend}`,
      /try again|resource|busy/i.test(answer) || answer.trim() === "",
    );
  return lines
    .filter((l) => l !== "" && !l.startsWith("#") && l !== "1")
    .map((l) => l.split(/\s+/))
    .filter((f) => f[1] === backend)
    .map((f) => ({ name: f[3]!, weight: Number(f[7]), inService: f[6] === "0" }));
}

/** How long another engine's lock on the state file is honoured before it counts as stale. */
const LOCK_STALE_MS = 15_000;

/** "host pid" of a lock's holder: gone when it is this host and no such process is alive. */
function holderGone(holder: string): boolean {
  const [host, pid] = holder.trim().split(" ");
  return host !== undefined && pid !== undefined && /^\d+$/.test(pid) && processGone(host, Number(pid));
}

/** Weights of two servers in one HAProxy backend, moved through the runtime API. */
export class HaproxyRouter implements Router {
  readonly description: string;
  readonly target: string;

  constructor(
    private readonly t: HaproxyTarget,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {
    for (const [kind, name] of [
      ["backend", t.backend],
      ["stable server", t.stableServer],
      ["candidate server", t.candidateServer],
    ] as const)
      assertName(kind, name);
    this.description = `haproxy ${t.backend} (stable ${t.stableServer}, candidate ${t.candidateServer})`;
    this.target = targetIdOf({ kind: "haproxy", ...t });
  }

  private cmd(command: string) {
    return runtimeCommand(this.t.runtimeApi, command, this.t.timeoutMs);
  }

  private async weightOf(server: string): Promise<number> {
    const answer = await this.cmd(`get weight ${this.t.backend}/${server}`);
    const m = /^(\d+)/.exec(answer.trim());
    if (!m) throw new RouterError(`HAProxy answered "${answer.trim()}" to get weight ${this.t.backend}/${server}`, false);
    return Number(m[1]);
  }

  private servers(): Promise<ServerState[]> {
    return withRetry("haproxy read servers", async () => parseServersState(await this.cmd(`show servers state ${this.t.backend}`), this.t.backend), this.retry);
  }

  async readSplit(): Promise<LiveSplit> {
    const servers = await this.servers();
    return fromWeights(servers.map((s) => ({ name: s.name, weight: s.inService ? s.weight : 0 })));
  }

  async prepare(write: CheckpointWrite): Promise<void> {
    const c = this.t.candidateServer;
    if (!(await this.servers()).some((s) => s.name === c)) throw new RouterError(`HAProxy backend ${this.t.backend} has no server named ${c}`, false);
    await this.locked(write, async () => {
      // Weight 0 before "ready": a candidate in maintenance with a weight left over must not take traffic by becoming ready.
      await this.apply([[c, 0]]);
      await withRetry(
        "haproxy prepare",
        async () => expectEmpty("set server ready", await this.cmd(`set server ${this.t.backend}/${c} state ready`)),
        this.retry,
      );
    });
  }

  async setWeight(weight: number, write: CheckpointWrite): Promise<void> {
    await this.locked(write, async () => {
      const w = split(weight);
      // Lower the arm that loses traffic first, so no intermediate state gives it more than either end state.
      const stable: ServerWeight = [this.t.stableServer, w.stable];
      const candidate: ServerWeight = [this.t.candidateServer, w.candidate];
      const now = await this.weightOf(this.t.candidateServer).catch(() => 0);
      await this.apply(w.candidate >= now ? [stable, candidate] : [candidate, stable]);
    });
  }

  async rollback(write: CheckpointWrite, plan: DrainPlan): Promise<RollbackResult> {
    const b = this.t.backend;
    const c = this.t.candidateServer;
    // Candidate to 0 first: from this command on it takes no new requests.
    await this.locked(write, () =>
      this.apply([
        [c, 0],
        [this.t.stableServer, 100],
      ]),
    );
    let open = await this.sessions(c).catch(() => -1);
    if (plan.mode === "drain" && open !== 0) {
      // Weight 0 sends new connections to stable; open sessions get the drain time to end on their own.
      const until = Date.now() + plan.drainMs;
      while (Date.now() < until && open !== 0) {
        await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, until - Date.now()))));
        open = await this.sessions(c).catch(() => -1);
      }
      if (open === 0)
        return { drained: true, note: `drained: the candidate's sessions on ${b}/${c} ended on their own within ${Math.round(plan.drainMs / 1000)} s` };
    }
    if (open === 0) return { drained: true, note: `no open sessions on ${b}/${c}` };
    // Weight changes only affect new connections; close the candidate's open ones (WebSockets reconnect to stable).
    await withRetry(
      "haproxy shutdown sessions",
      async () => expectEmpty("shutdown sessions", await this.cmd(`shutdown sessions server ${b}/${c}`)),
      this.retry,
    );
    const left = open > 0 ? `${open} ` : "";
    return {
      drained: true,
      note:
        plan.mode === "drain"
          ? `closed ${left}session(s) still open on ${b}/${c} after the ${Math.round(plan.drainMs / 1000)} s drain`
          : `closed ${left}open session(s) on ${b}/${c} at once`,
    };
  }

  /** The server's current sessions (scur of `show stat`). */
  private async sessions(server: string): Promise<number> {
    const answer = await this.cmd(`show stat ${this.t.backend} 4 -1`);
    const header = answer.split("\n")[0]?.replace(/^# /, "").split(",") ?? [];
    const scur = header.indexOf("scur");
    const row = answer.split("\n").find((l) => l.split(",")[1] === server);
    if (scur < 0 || !row) throw new RouterError(`HAProxy show stat has no row for ${this.t.backend}/${server}`, true);
    return Number(row.split(",")[scur]);
  }

  /**
   * Sets each server's weight in order, each confirmed by reading it back:
   * HAProxy's "done" for `set weight` is an empty answer, which is also what
   * a connection closed before answering looks like.
   */
  private async apply(weights: ServerWeight[]): Promise<void> {
    for (const [server, value] of weights) {
      const command = `set weight ${this.t.backend}/${server} ${value}`;
      await withRetry(
        `haproxy ${command}`,
        async () => {
          expectEmpty(command, await this.cmd(command));
          const now = await this.weightOf(server);
          if (now !== value) throw new RouterError(`HAProxy reports weight ${now} for ${this.t.backend}/${server} after "${command}"`, true);
        },
        this.retry,
      );
    }
  }

  async readCheckpoint(): Promise<string | null> {
    try {
      return await readFile(this.t.stateFile, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  saveCheckpoint(write: CheckpointWrite): Promise<void> {
    return this.locked(write, async () => undefined);
  }

  /**
   * The compare-and-swap for a file: under an exclusive lock file, the
   * stored checkpoint is checked (write.guard), the new one written
   * (rename is atomic: a crash leaves the old or the new one, never half),
   * and only then is traffic moved (`then`).
   */
  private async locked(write: CheckpointWrite, then: () => Promise<void>): Promise<void> {
    await mkdir(dirname(this.t.stateFile), { recursive: true });
    const lock = `${this.t.stateFile}.lock`;
    const handle = await this.acquire(lock);
    try {
      write.guard(await this.readCheckpoint(), await this.readSplit());
      const tmp = `${this.t.stateFile}.${process.pid}.tmp`;
      await writeFile(tmp, write.text);
      await rename(tmp, this.t.stateFile);
      await then();
    } finally {
      await handle.close();
      await rm(lock, { force: true });
    }
  }

  /** The lock file names its holder (host and pid): a lock left by a process that no longer exists on this host is taken over at once. */
  private async acquire(lock: string) {
    const until = Date.now() + 5_000;
    for (;;) {
      try {
        const h = await open(lock, "wx");
        await h.writeFile(`${hostname()} ${process.pid}`);
        return h;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        const holder = await readFile(lock, "utf8").catch(() => "");
        if (age > LOCK_STALE_MS || holderGone(holder)) await rm(lock, { force: true });
        else if (Date.now() > until) throw new RouterError(`the checkpoint lock ${lock} is held by another engine (${holder || "unknown"})`, true);
        else await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async candidateUrl(): Promise<string | undefined> {
    return this.t.candidateUrl;
  }

  async stableUrl(): Promise<string | undefined> {
    return this.t.stableUrl;
  }
}
