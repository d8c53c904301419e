import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on loopback that can be switched off: while down, it accepts
 * connections and resets them at once (what a dead runtime socket looks
 * like to a client), and the connections it had open are cut. Used to break
 * HAProxy's runtime API mid-rollout and Prometheus's scrape path. It can
 * also swallow commands: read one, close without forwarding or answering
 * (a half-broken socket, whose empty answer looks like HAProxy's "done").
 */
export interface FaultProxy {
  address: string;
  down: boolean;
  /** Connections refused while down. */
  refused: number;
  /** How many of the next commands matching `swallowPattern` are swallowed (Infinity: all). */
  swallowNext: number;
  swallowPattern: RegExp;
  /** Commands swallowed so far. */
  swallowed: number;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  if (!/^127\.|^localhost$/.test(host)) throw new Error(`fault proxy only forwards to loopback, not ${target}`);
  const sockets = new Set<Socket>();
  let down = false;
  const state = {
    // Going down also cuts connections already open (a client with keep-alive, like Prometheus, would otherwise never notice).
    get down() {
      return down;
    },
    set down(value: boolean) {
      down = value;
      if (value) for (const s of sockets) s.destroy();
    },
    refused: 0,
    swallowNext: 0,
    swallowPattern: /^set weight /,
    swallowed: 0,
  };
  // Half-open: the runtime API client ends its side right after the command and still reads the answer.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    if (down) {
      state.refused++;
      client.resetAndDestroy();
      return;
    }
    client.once("data", (first: Buffer) => {
      if (state.swallowNext > 0 && state.swallowPattern.test(first.toString("utf8"))) {
        state.swallowNext--;
        state.swallowed++;
        client.end();
        return;
      }
      const upstream = connect({ port, host, allowHalfOpen: true });
      sockets.add(upstream);
      upstream.on("close", () => sockets.delete(upstream));
      upstream.write(first);
      client.pipe(upstream).pipe(client);
      const end = () => (client.destroy(), upstream.destroy());
      client.on("error", end);
      upstream.on("error", end);
    });
    client.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (typeof addr !== "object" || addr === null) throw new Error("fault proxy has no address");
  // The returned object is the live state itself, so tests flip `down` or `swallowNext` on it directly.
  return Object.assign(state, {
    address: `127.0.0.1:${addr.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}
