import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** A running policy pack: the analyzer server a PolicyPack starts, as the CLI runs it. */
export interface RunningPack {
  address: string;
  stop(): Promise<void>;
  /** What the pack wrote to stderr (shown when something goes wrong). */
  stderr(): string;
}

const ROOT = resolve(__dirname, "..", "..");

/**
 * Starts the pack in `dir` the way the CLI's policy host does: the pack's
 * own directory as working directory (the SDK reads its package.json for
 * the version), the entry point run once, the port read from its first
 * line of output. TypeScript runs through tsx instead of ts-node.
 */
export function startPack(dir = join(ROOT, "policies"), timeoutMs = 60_000): Promise<RunningPack> {
  const tsx = join(ROOT, "node_modules", ".bin", "tsx");
  if (!existsSync(join(dir, "PulumiPolicy.yaml"))) return Promise.reject(new Error(`${dir} is not a policy pack (no PulumiPolicy.yaml)`));
  const child: ChildProcess = spawn(tsx, ["index.ts"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const stop = () =>
    new Promise<void>((res) => {
      if (child.exitCode !== null || child.signalCode !== null) return res();
      child.once("exit", () => res());
      child.kill("SIGTERM");
    });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      void stop();
      rej(new Error(`policy pack in ${dir} did not report its port within ${timeoutMs / 1000} s\n${err}`));
    }, timeoutMs);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\s*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        res({ address: `127.0.0.1:${m[1]}`, stop, stderr: () => err });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`policy pack in ${dir} exited with code ${code} before serving\n${err}`));
    });
  });
}
