import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { pulumiCliDir } from "./goTools";
import { runToEnd, TSX, type RunResult } from "./processes";
import { ROOT } from "./stacks";

/**
 * The real Pulumi CLI (built from its Go modules) on one project, with a
 * local file backend and a passphrase secrets provider in a temp dir (never
 * the user's ~/.pulumi), and a stack of its own whose config file,
 * Pulumi.<stack>.yaml beside the project, is git-ignored and removed
 * afterwards. Every command is bounded in time.
 */
export class PulumiCli {
  readonly dir = mkdtempSync(join(tmpdir(), "pd-engine-"));
  readonly configFile: string;
  private readonly env: NodeJS.ProcessEnv;
  private salt = "";
  /** `secure:` entries set with setSecret, kept across setConfig (which rewrites the file). */
  private readonly secure = new Map<string, string>();
  /** Everything every command printed, to check no secret ever reached an output. */
  readonly transcript: string[] = [];

  constructor(
    readonly projectDir: string,
    readonly stack: string,
    /** More directories for PATH, before the system's (plugins such as pulumi-resource-kubernetes). */
    morePath: string[] = [],
  ) {
    mkdirSync(join(this.dir, "state"));
    // The CLI, its plugins and the providers keep their temp files (the Kubernetes provider's kubeconfig copies, say) in here, removed with it.
    mkdirSync(join(this.dir, "tmp"));
    this.configFile = join(projectDir, `Pulumi.${stack}.yaml`);
    this.env = {
      ...process.env,
      PATH: [pulumiCliDir(), ...morePath, process.env["PATH"] ?? ""].join(delimiter),
      PULUMI_HOME: join(this.dir, "home"),
      TMPDIR: join(this.dir, "tmp"),
      PULUMI_BACKEND_URL: `file://${join(this.dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "engine-tests",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
      NO_COLOR: "1",
    };
  }

  /**
   * Runs `pulumi ARGS --stack S --non-interactive`. `watch` sees the output
   * as it comes and may signal the CLI (SIGINT) or kill its whole process
   * group (the CLI, the language host, node and the provider host).
   */
  async run(args: string[], timeoutMs = 240_000, watch?: (output: string, signal: (s: NodeJS.Signals, group?: boolean) => void) => void): Promise<RunResult> {
    const r = await runToEnd("pulumi", [...args, "--stack", this.stack, "--non-interactive"], {
      cwd: this.projectDir,
      env: this.env,
      timeoutMs,
      group: true,
      ...(watch ? { watch } : {}),
    });
    this.transcript.push(r.stdout, r.stderr);
    return r;
  }

  /** `pulumi config set --secret KEY` with the value on stdin (never on a command line). */
  async setSecret(project: string, key: string, value: string): Promise<void> {
    const r = await runToEnd("pulumi", ["config", "set", "--secret", `${project}:${key}`, "--stack", this.stack, "--non-interactive"], {
      cwd: this.projectDir,
      env: this.env,
      timeoutMs: 60_000,
      stdin: value,
    });
    if (r.code !== 0) throw new Error(`pulumi config set --secret ${key} exited ${r.code}: ${r.stderr}`);
    const entry = new RegExp(`^  ${project}:${key}:\\n    secure: .*$`, "m").exec(readFileSync(this.configFile, "utf8"));
    if (!entry) throw new Error(`no secure entry for ${key} in ${this.configFile}`);
    this.secure.set(key, entry[0]);
  }

  /** Like run(), but a non-zero exit is an error that shows what the CLI printed. */
  async ok(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${r.code}:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    return r.stdout;
  }

  /** Creates the stack; its config file keeps the salt `stack init` writes for the passphrase provider. */
  async init(): Promise<void> {
    await this.ok(["stack", "init"]);
    this.salt = existsSync(this.configFile) ? (/^encryptionsalt: .*$/m.exec(readFileSync(this.configFile, "utf8"))?.[0] ?? "") : "";
  }

  /** The environment the CLI runs with (for the Automation API in child processes too). */
  get environment(): NodeJS.ProcessEnv {
    return this.env;
  }

  /** Writes the stack's config file: one JSON value per key of the project's namespace. */
  setConfig(project: string, values: Record<string, unknown>): void {
    const lines = [...Object.entries(values).map(([k, v]) => `  ${project}:${k}: ${JSON.stringify(v)}`), ...this.secure.values()];
    writeFileSync(this.configFile, `${this.salt}\nconfig:${lines.length > 0 ? `\n${lines.join("\n")}` : " {}"}\n`);
  }

  remove(): void {
    rmSync(this.configFile, { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs one of this project's commands (src/cli/NAME.ts, as `npm run NAME` does) with the CLI's environment, stdin closed, bounded in time. */
export async function runCommand(
  name: "rollback" | "status" | "report" | "rollout",
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 300_000,
  transcript?: string[],
): Promise<RunResult> {
  const r = await runToEnd(TSX, [join(ROOT, "src", "cli", `${name}.ts`), ...args], { cwd: ROOT, env, timeoutMs, group: true });
  transcript?.push(r.stdout, r.stderr);
  return r;
}
