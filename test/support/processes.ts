import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
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

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end and collects its output, bounded by
 * `timeoutMs` (then killed, and the promise rejects with the output's
 * tail). `group` starts it in its own process group, which `signal(…, true)`
 * and the timeout kill as a whole (a CLI and the plugins it started).
 * `watch` sees stdout as it grows.
 */
export function runToEnd(
  cmd: string,
  args: string[],
  opts: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs: number;
    group?: boolean;
    stdin?: string;
    watch?: (stdout: string, signal: (s: NodeJS.Signals, group?: boolean) => void) => void;
  },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      detached: opts.group === true,
    });
    if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
    let stdout = "";
    let stderr = "";
    const signal = (s: NodeJS.Signals, group = false) => {
      if (group && opts.group && child.pid) signalTree(child.pid, s);
      else child.kill(s);
    };
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      opts.watch?.(stdout, signal);
    });
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => {
      // The whole tree: a wrapper (tsx, npx) killed alone would leave the process doing the work running.
      if (child.pid) signalTree(child.pid, "SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} did not finish within ${opts.timeoutMs} ms\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
    }, opts.timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every descendant of `pid` (children, their children, ...), read from /proc. */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid ...": fields after the last ')'.
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue;
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

/**
 * Signals a process, its process group and every descendant: Pulumi starts
 * each plugin (language host, provider hosts) in a process group of its
 * own, so killing the CLI's group alone leaves them running. A machine
 * going away (or a CI runner cancelling a job) takes them all.
 */
export function signalTree(pid: number, s: NodeJS.Signals): void {
  const all = [pid, ...descendants(pid)];
  for (const p of all) {
    try {
      process.kill(p, s);
    } catch {
      /* already gone */
    }
  }
  try {
    process.kill(-pid, s);
  } catch {
    /* no such group */
  }
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
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (opts.ready && !opts.ready.test(out)) reject(new Error(`${cmd} exited with ${code} before it was ready:\n${out}`));
    });
  });
}

export const TSX = join(ROOT, "node_modules", ".bin", "tsx");

export async function startSampleBackend(version: string, extra: string[] = [], fixedPort?: number): Promise<Proc & { port: number; url: string }> {
  const port = fixedPort ?? (await freePort());
  // One process (node with tsx's loader), not tsx's launcher and a child: a SIGKILL then really kills the backend.
  const p = await startProcess(
    process.execPath,
    ["--import", "tsx", join(ROOT, "test/fixtures/sample-backend.ts"), "--port", String(port), "--version", version, ...extra],
    { ready: /listening/ },
  );
  return { ...p, port, url: `http://127.0.0.1:${port}` };
}
