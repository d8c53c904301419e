import type { ProbeCounts } from "../analysis/window";
import { pathOn } from "../gates/http";

/**
 * A synthetic WebSocket client on one arm: it keeps a session open to the
 * arm's own URL, sends a numbered message at a fixed rate and waits for its
 * echo. A message not echoed within the timeout, or lost with a session
 * that closed or never opened, is a failure. HTTP-level metrics cannot see
 * a server that accepts connections and then drops messages; this can.
 * Everything is bounded: one session at a time, reconnects at most once a
 * second, the loop stops with the rollout.
 */
export interface WebSocketProbeOptions {
  /** ws:// or wss:// URL of the arm's echo endpoint. */
  url: string;
  messagesPerSecond: number;
  timeoutMs: number;
  headers?: Record<string, string>;
  /** A new session after this many messages, so a multi-instance arm is sampled across instances. */
  messagesPerSession?: number;
}

export class WebSocketProbe {
  private counts: ProbeCounts = { sent: 0, failed: 0, latenciesMs: [] };
  private readonly pending = new Map<string, number>();
  private ws: import("ws").WebSocket | undefined;
  private open = false;
  private sentInSession = 0;
  private seq = 0;
  private reconnectAt = 0;
  private connectingSince = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: WebSocketProbeOptions) {}

  /** Starts sending; returns at once. */
  start(): void {
    this.timer = setInterval(() => void this.tick(), Math.max(20, Math.round(1000 / this.o.messagesPerSecond)));
  }

  /** Outcomes since the last take (messages still in flight are counted when they resolve). */
  take(): ProbeCounts {
    this.expire();
    const out = this.counts;
    this.counts = { sent: 0, failed: 0, latenciesMs: [] };
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.ws?.terminate();
    this.pending.clear();
  }

  private fail(n = 1) {
    this.counts.sent += n;
    this.counts.failed += n;
  }

  /** Messages whose echo is overdue are failures. */
  private expire() {
    const now = performance.now();
    for (const [token, sentAt] of this.pending) {
      if (now - sentAt > this.o.timeoutMs) {
        this.pending.delete(token);
        this.fail();
      }
    }
  }

  /** A session that ended loses what it had in flight. */
  private lost() {
    this.fail(this.pending.size);
    this.pending.clear();
    this.open = false;
    this.ws = undefined;
  }

  private async connect() {
    if (this.ws || this.stopped || Date.now() < this.reconnectAt) return;
    this.reconnectAt = Date.now() + 1000;
    const { WebSocket } = await import("ws");
    const ws = new WebSocket(this.o.url, { headers: this.o.headers ?? {}, handshakeTimeout: this.o.timeoutMs, followRedirects: false });
    this.ws = ws;
    this.connectingSince = performance.now();
    this.sentInSession = 0;
    ws.on("open", () => (this.open = true));
    ws.on("message", (data) => {
      const token = messageText(data);
      const sentAt = this.pending.get(token);
      if (sentAt === undefined) return;
      this.pending.delete(token);
      this.counts.sent++;
      this.counts.latenciesMs.push(performance.now() - sentAt);
    });
    ws.on("close", () => {
      if (this.ws === ws) this.lost();
    });
    ws.on("error", () => {
      if (this.ws === ws) {
        ws.terminate();
        this.lost();
      }
    });
  }

  private async tick() {
    if (this.stopped) return;
    this.expire();
    if (this.open && this.ws && this.sentInSession >= (this.o.messagesPerSession ?? 100) && this.pending.size === 0) {
      // Rotate sessions cleanly (a normal close is not a failure).
      const old = this.ws;
      this.ws = undefined;
      this.open = false;
      old.close(1000);
    }
    if (!this.ws) await this.connect();
    if (!this.open || !this.ws) {
      // The arm cannot be reached (no session, or one still not open after the timeout): each message
      // that could not be sent is a failure, at the rate a healthy arm answers them.
      if (!this.ws || performance.now() - this.connectingSince > this.o.timeoutMs) this.fail();
      return;
    }
    const token = `probe-${++this.seq}`;
    this.pending.set(token, performance.now());
    this.sentInSession++;
    this.ws.send(token);
  }
}

/** A WebSocket message as text, whatever form `ws` hands it over in (a Buffer, fragments, an ArrayBuffer). */
export function messageText(data: Buffer | ArrayBuffer | Buffer[]): string {
  return Buffer.isBuffer(data) ? data.toString() : Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data).toString();
}

/** ws(s):// URL of `path` on an arm's http(s):// base URL. */
export function websocketUrl(base: string, path: string): string {
  const url = pathOn(base, path);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}
