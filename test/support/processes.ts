import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
// Not from ./stacks: that module needs vitest, and the benchmarks use the proving ground too.
const ROOT = resolve(__dirname, "../..");

/** A free TCP port on loopback (bound then released; the OS does not hand it out again at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts a process and waits until `ready` matches its output (bounded by `timeoutMs`); without `ready`, until it has spawned. */
export function startProcess(cmd: string, args: string[], opts: { ready?: RegExp; timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const proc: Proc = {
      child,
      output: () => out,
      stop: () =>
        new Promise<void>((r) => {
          if (child.exitCode !== null || child.signalCode !== null) return r();
          const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
          child.once("exit", () => {
            clearTimeout(kill);
            r();
          });
          child.kill("SIGTERM");
        }),
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} did not become ready within ${opts.timeoutMs ?? 15000} ms:\n${out}`));
    }, opts.timeoutMs ?? 15000);
    if (!opts.ready) {
      child.once("spawn", () => {
        clearTimeout(timer);
        resolve(proc);
      });
    }
    const onData = (d: Buffer) => {
      out += d.toString();
      if (opts.ready?.test(out)) {
        clearTimeout(timer);
        resolve(proc);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (opts.ready && !opts.ready.test(out)) reject(new Error(`${cmd} exited with ${code} before it was ready:\n${out}`));
    });
  });
}

export const TSX = join(ROOT, "node_modules", ".bin", "tsx");

export async function startSampleBackend(version: string, extra: string[] = [], fixedPort?: number): Promise<Proc & { port: number; url: string }> {
  const port = fixedPort ?? (await freePort());
  const p = await startProcess(TSX, [join(ROOT, "test/fixtures/sample-backend.ts"), "--port", String(port), "--version", version, ...extra], { ready: /listening/ });
  return { ...p, port, url: `http://127.0.0.1:${port}` };
}
