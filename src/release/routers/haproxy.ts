import { connect } from "node:net";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { RouterError, split, type Router } from "./router";
import { withRetry, type RetryPolicy, DEFAULT_RETRY } from "./retry";

export interface HaproxyTarget {
  /** Runtime API address: "127.0.0.1:9999" (stats socket ipv4@…) or a unix socket path. */
  runtimeApi: string;
  backend: string;
  stableServer: string;
  candidateServer: string;
  /** The rollout checkpoint lives in this file beside HAProxy's config. */
  stateFile: string;
  /** Where the candidate answers directly (smoke tests), e.g. "http://127.0.0.1:8102". */
  candidateUrl?: string;
  timeoutMs?: number;
}

/** Sends one command to HAProxy's runtime API and returns its answer (non-interactive mode). */
export function runtimeCommand(address: string, command: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const m = /^(.+):(\d+)$/.exec(address);
    const socket = m && !address.startsWith("/") ? connect({ host: m[1]!, port: Number(m[2]) }) : connect({ path: address });
    let out = "";
    const timer = setTimeout(() => socket.destroy(new RouterError(`HAProxy runtime API ${address} did not answer "${command}" within ${timeoutMs} ms`, true)), timeoutMs);
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

/** Weights of two servers in one HAProxy backend, moved through the runtime API. */
export class HaproxyRouter implements Router {
  readonly description: string;

  constructor(
    private readonly t: HaproxyTarget,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {
    this.description = `haproxy ${t.backend} (stable ${t.stableServer}, candidate ${t.candidateServer})`;
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

  async prepare(): Promise<void> {
    await withRetry("haproxy prepare", async () => expectEmpty("set server ready", await this.cmd(`set server ${this.t.backend}/${this.t.candidateServer} state ready`)), this.retry);
  }

  async currentWeight(): Promise<number> {
    return withRetry(
      "haproxy read weights",
      async () => {
        const c = await this.weightOf(this.t.candidateServer);
        const s = await this.weightOf(this.t.stableServer);
        return c + s === 0 ? 0 : Math.round((100 * c) / (c + s));
      },
      this.retry,
    );
  }

  async setWeight(weight: number, checkpoint: string): Promise<void> {
    await this.writeCheckpoint(checkpoint);
    const w = split(weight);
    // Lower the arm that loses traffic first, so no intermediate state gives it more than either end state.
    const stable: ServerWeight = [this.t.stableServer, w.stable];
    const candidate: ServerWeight = [this.t.candidateServer, w.candidate];
    await this.apply(w.candidate >= (await this.currentWeight().catch(() => 0)) ? [stable, candidate] : [candidate, stable]);
  }

  async rollback(checkpoint: string): Promise<{ drained: boolean; note: string }> {
    const b = this.t.backend;
    // Candidate to 0 first: from this command on it takes no new requests.
    await this.apply([[this.t.candidateServer, 0], [this.t.stableServer, 100]]);
    await this.writeCheckpoint(checkpoint);
    // Weight changes only affect new connections; close the candidate's open ones (WebSockets reconnect to stable).
    await withRetry("haproxy shutdown sessions", async () => expectEmpty("shutdown sessions", await this.cmd(`shutdown sessions server ${b}/${this.t.candidateServer}`)), this.retry);
    return { drained: true, note: `closed open sessions on ${b}/${this.t.candidateServer}` };
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

  saveCheckpoint(data: string): Promise<void> {
    return this.writeCheckpoint(data);
  }

  private async writeCheckpoint(data: string) {
    await mkdir(dirname(this.t.stateFile), { recursive: true });
    const tmp = `${this.t.stateFile}.${process.pid}.tmp`;
    await writeFile(tmp, data);
    // rename is atomic: a crash leaves the old or the new checkpoint, never half of one.
    await rename(tmp, this.t.stateFile);
  }

  async candidateUrl(): Promise<string | undefined> {
    return this.t.candidateUrl;
  }
}
