import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** A running policy pack: the analyzer server a PolicyPack starts, as the CLI runs it. */
export interface RunningPack {
  address: string;
  /** The pack's process (its CPU time can be read from /proc). */
  pid: number;
  stop(): Promise<void>;
  /** What the pack wrote to stderr (shown when something goes wrong). */
  stderr(): string;
}

const ROOT = resolve(__dirname, "..", "..");

/**
 * Starts the pack in `dir` the way the CLI's policy host does: the SDK's
 * own entry point (`@pulumi/pulumi/cmd/run-policy-pack`, what the
 * `pulumi-analyzer-policy` plugin runs) with the pack's directory as working
 * directory (the SDK reads its package.json for the version) and its
 * TypeScript through the SDK's ts-node; the port is the first line of output.
 * The engine address is only used for the pack's own log messages, which
 * these packs do not send, so a closed port stands in for it.
 */
export function startPack(dir = join(ROOT, "policies"), timeoutMs = 60_000): Promise<RunningPack> {
  const host = join(ROOT, "node_modules", "@pulumi", "pulumi", "cmd", "run-policy-pack");
  if (!existsSync(join(dir, "PulumiPolicy.yaml"))) return Promise.reject(new Error(`${dir} is not a policy pack (no PulumiPolicy.yaml)`));
  const child: ChildProcess = spawn(process.execPath, [host, "127.0.0.1:1", "."], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
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
        res({ address: `127.0.0.1:${m[1]}`, pid: child.pid!, stop, stderr: () => err });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`policy pack in ${dir} exited with code ${code} before serving\n${err}`));
    });
  });
}
