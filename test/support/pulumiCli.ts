import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { pulumiCliDir } from "./goTools";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real Pulumi CLI (built from its Go modules) on one project, with a
 * local file backend, a passphrase secrets provider and a stack config file
 * in a temp dir: nothing is written into the repository or the user's
 * ~/.pulumi. Every command is bounded in time.
 */
export class PulumiCli {
  readonly dir = mkdtempSync(join(tmpdir(), "pd-engine-"));
  readonly configFile = join(this.dir, "stack.yaml");
  private readonly env: NodeJS.ProcessEnv;
  private salt = "";

  constructor(
    readonly projectDir: string,
    readonly stack: string,
  ) {
    mkdirSync(join(this.dir, "state"));
    this.env = {
      ...process.env,
      PATH: `${pulumiCliDir()}${delimiter}${process.env["PATH"] ?? ""}`,
      PULUMI_HOME: join(this.dir, "home"),
      PULUMI_BACKEND_URL: `file://${join(this.dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "engine-tests",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
      NO_COLOR: "1",
    };
  }

  /** Runs `pulumi ARGS --stack S --non-interactive` (and the stack's config file where the command takes one). */
  run(args: string[], timeoutMs = 240_000, signalAfter?: { ms: number; signal: NodeJS.Signals }[]): Promise<CliResult> {
    const withConfig = ["preview", "up", "refresh", "destroy", "cancel"].includes(args[0]!) ? ["--config-file", this.configFile] : [];
    const full = [...args, "--stack", this.stack, "--non-interactive", ...withConfig];
    return new Promise((resolve, reject) => {
      const child = spawn("pulumi", full, { cwd: this.projectDir, env: this.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timers = (signalAfter ?? []).map((s) => setTimeout(() => child.kill(s.signal), s.ms));
      const kill = setTimeout(() => {
        // The whole process group: the CLI, its language host, node and the provider host.
        if (child.pid) process.kill(-child.pid, "SIGKILL");
        reject(new Error(`pulumi ${full.join(" ")} did not finish within ${timeoutMs} ms\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }, timeoutMs);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(kill);
        for (const t of timers) clearTimeout(t);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Like run(), but a non-zero exit is an error that shows what the CLI printed. */
  async ok(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    return r.stdout;
  }

  /**
   * Creates the stack. `stack init` writes the passphrase provider's salt
   * into Pulumi.<stack>.yaml beside the project (it takes no --config-file):
   * the salt moves to the temp config file and the project dir stays clean.
   */
  async init(): Promise<void> {
    await this.ok(["stack", "init"]);
    const written = join(this.projectDir, `Pulumi.${this.stack}.yaml`);
    if (existsSync(written)) {
      this.salt = /^encryptionsalt: .*$/m.exec(readFileSync(written, "utf8"))?.[0] ?? "";
      rmSync(written);
    }
    this.setConfig("", {});
  }

  /** Writes the stack's config file: one JSON value per key of the project's namespace. */
  setConfig(project: string, values: Record<string, unknown>): void {
    const lines = Object.entries(values).map(([k, v]) => `  ${project}:${k}: ${JSON.stringify(v)}`);
    writeFileSync(this.configFile, `${this.salt}\nconfig:${lines.length > 0 ? `\n${lines.join("\n")}` : " {}"}\n`);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
