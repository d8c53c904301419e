/**
 * Rollback by redeploying a prior stack state:
 *
 *   npm run -s rollback -- --stack NAME [--to UPDATE] [--yes] [--immediate]
 *                       [--policy-pack DIR --policy-pack-config FILE] [--project-dir DIR]
 *
 * Reads the stack's history through Pulumi's Automation API, picks the last
 * successful update before the newest one (or --to), shows the config that
 * changes and a preview with that update's configuration, asks before going
 * on (unless --yes), then runs `pulumi up` with it. --immediate sets
 * `releaseImmediately`, so the release engine switches straight back without
 * steps or gates (the emergency path). A refused or failed preview leaves the
 * stack's config file exactly as it was. Exit codes: 0 rolled back, 1 error
 * or failed update, 2 not confirmed (nothing changed).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { parseCommand, runMain, usageError } from "./common";
import { firstErrorLine, selectStack } from "./stackSelection";
import { chooseUpdate, configChanges, configForCli, programFiles, type ConfigMap, type HistoryEntry } from "../rollback/plan";

export const EXIT = { done: 0, error: 1, notConfirmed: 2 } as const;

export const USAGE = `usage: npm run -s rollback -- --stack NAME [--to UPDATE] [--yes] [--immediate]
                              [--policy-pack DIR --policy-pack-config FILE] [--project-dir DIR]

  --stack NAME               the stack to roll back (org/name on Pulumi Cloud)
  --to UPDATE                the update number to return to (default: the last successful one before the newest)
  --yes                      do not ask before running the update
  --immediate                switch traffic straight back, without canary steps or gates (emergency)
  --policy-pack DIR          run the preview and the update with this policy pack (e.g. policies)
  --policy-pack-config FILE  its config (e.g. policies/config/production.json)
  --project-dir DIR          the Pulumi project (default: this repository)
  -h, --help                 this text
  --version                  the tool's version

exit codes: 0 rolled back, 1 error or failed update, 2 not confirmed (nothing changed)
`;

const say = (text: string) => process.stdout.write(`rollback: ${text}\n`);

/** Files that differ between `commit` and the working tree under `dir`, or why they cannot be listed. */
function changedSince(dir: string, commit: string): { files: string[] } | { unknown: string } {
  try {
    const out = execFileSync("git", ["-C", dir, "diff", "--name-only", commit, "--", "."], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { files: out.split("\n") };
  } catch (e) {
    return { unknown: ((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split("\n")[0] ?? "git failed" };
  }
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** `pulumi config set --secret KEY` with the value on stdin: never on a command line. */
function setSecretFromStdin(cwd: string, stackName: string, key: string, value: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", ["config", "set", "--secret", key, "--stack", stackName, "--non-interactive"], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["pipe", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`pulumi config set --secret ${key} exited ${code}: ${err.trim().split("\n")[0] ?? ""}`)),
    );
    child.stdin.end(value);
  });
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    "rollback",
    argv,
    {
      stack: { type: "string" },
      to: { type: "string" },
      yes: { type: "boolean", default: false },
      immediate: { type: "boolean", default: false },
      "project-dir": { type: "string" },
      "policy-pack": { type: "string" },
      "policy-pack-config": { type: "string" },
    },
    USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const values = parsed.values;
  if (!values.stack) return usageError("rollback", "--stack is required", USAGE);
  const to = values.to === undefined ? undefined : Number(values.to);
  if (to !== undefined && (!Number.isInteger(to) || to < 1)) {
    process.stderr.write(`rollback: --to must be an update number (1, 2, …), not ${JSON.stringify(values.to)}\n`);
    return EXIT.error;
  }
  const stackName = values.stack;
  const policies = values["policy-pack"]
    ? { policyPacks: [resolve(values["policy-pack"])], ...(values["policy-pack-config"] ? { policyPackConfigs: [resolve(values["policy-pack-config"])] } : {}) }
    : {};

  const selected = await selectStack(stackName, values["project-dir"]);
  if ("problem" in selected) {
    process.stderr.write(`rollback: ${selected.problem}\n`);
    return EXIT.error;
  }
  const { stack, projectDir } = selected;
  const project = (await stack.workspace.projectSettings()).name;
  // Decrypted, so the target's secrets can be set again; never printed (configChanges masks them).
  const history: HistoryEntry[] = await stack.history(undefined, undefined, true);
  const choice = chooseUpdate(stackName, history, to);
  if (!choice.ok) {
    process.stderr.write(`rollback: ${choice.problem}\n`);
    return EXIT.error;
  }
  const { current, target } = choice;
  say(
    `stack ${stackName}: newest update ${current.version} (${current.kind}, ${current.result}, ${new Date(current.startTime).toISOString()}); returning to update ${target.version} (${new Date(target.startTime).toISOString()}${target.message ? `, "${target.message}"` : ""})`,
  );

  const head = target.environment?.["git.head"];
  if (head) {
    const changed = changedSince(projectDir, head);
    if ("unknown" in changed)
      say(
        `cannot compare the program with update ${target.version}'s commit ${head.slice(0, 12)} (${changed.unknown}); the rollback runs the program as checked out`,
      );
    else {
      const files = programFiles(changed.files);
      if (files.length > 0)
        say(
          `the program changed since update ${target.version} (commit ${head.slice(0, 12)}): ${files.join(", ")}. This rollback redeploys that update's configuration with the program as checked out; to redeploy its program as well, check out ${head.slice(0, 12)} (e.g. \`git worktree add\`) and run the rollback there.`,
        );
    }
  }

  const extra: ConfigMap = values.immediate ? { [`${project}:releaseImmediately`]: { value: "true", secret: false } } : {};
  const targetConfig = { ...target.config!, ...extra };
  const currentConfig = (await stack.getAllConfig()) as ConfigMap;
  const changes = configChanges(currentConfig, targetConfig);
  say(changes.length === 0 ? "configuration: no change" : `configuration changes:\n  ${changes.join("\n  ")}`);

  // The stack's config file is the one thing changed before the update runs: keep its bytes to put back.
  // Named after the stack's own name, without the organization.
  const configFile = join(projectDir, `Pulumi.${stackName.split("/").at(-1)}.yaml`);
  const saved = existsSync(configFile) ? readFileSync(configFile) : null;
  const restore = () => (saved ? writeFileSync(configFile, saved) : rmSync(configFile, { force: true }));
  try {
    for (const key of Object.keys(currentConfig)) if (!(key in targetConfig)) await stack.removeConfig(key);
    const { json, secrets } = configForCli(targetConfig);
    await stack.workspace.setAllConfigJson(stackName, json);
    for (const [key, value] of secrets) await setSecretFromStdin(projectDir, stackName, key, value, stack.workspace.envVars);
    say("preview with that configuration:");
    await stack.preview({ diff: true, ...policies, onOutput: (o) => process.stdout.write(o) });
  } catch (e) {
    restore();
    process.stderr.write(`rollback: the preview failed, nothing was changed (the stack's config file is as it was): ${firstErrorLine(e)}\n`);
    return EXIT.error;
  }
  if (!values.yes) {
    if (!process.stdin.isTTY) {
      restore();
      process.stderr.write("rollback: not confirmed (no terminal to ask; pass --yes); nothing was changed\n");
      return EXIT.notConfirmed;
    }
    if (!(await confirm(`Roll stack ${stackName} back to update ${target.version}${values.immediate ? " immediately (no canary steps)" : ""}?`))) {
      restore();
      say("not confirmed; nothing was changed");
      return EXIT.notConfirmed;
    }
  }
  try {
    const up = await stack.up({ ...policies, onOutput: (o) => process.stdout.write(o) });
    say(`stack ${stackName} is back on update ${target.version}'s configuration (the update ${up.summary.result})`);
    return EXIT.done;
  } catch (e) {
    // The config stays at the target: the engine already restored traffic where it could, and a retry needs the same config.
    process.stderr.write(
      `rollback: the update failed: ${firstErrorLine(e)}\nThe stack's config is now update ${target.version}'s; run the rollback again after fixing the cause, or restore the file from git.\n`,
    );
    return EXIT.error;
  }
}

if (require.main === module) runMain("rollback", main);
