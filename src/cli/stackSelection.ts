import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { onPath, PULUMI_MISSING } from "./common";

/** This repository's Pulumi project, where the commands run unless --project-dir says otherwise. */
export const REPOSITORY_ROOT = join(__dirname, "..", "..");

/**
 * Selects a stack of the Pulumi project in `projectDir` through the
 * Automation API (the `pulumi` CLI on PATH), or says in one line why not.
 */
export async function selectStack(stackName: string, projectDir = REPOSITORY_ROOT): Promise<{ stack: Stack; projectDir: string } | { problem: string }> {
  if (!onPath("pulumi")) return { problem: PULUMI_MISSING };
  const dir = resolve(projectDir);
  if (!existsSync(join(dir, "Pulumi.yaml"))) return { problem: `${dir} has no Pulumi.yaml (use --project-dir)` };
  try {
    return { stack: await LocalWorkspace.selectStack({ stackName, workDir: dir }), projectDir: dir };
  } catch (e) {
    return { problem: `cannot select stack ${stackName} in ${dir}: ${firstErrorLine(e)}` };
  }
}

/** The line of a CLI failure that says what went wrong (Automation API errors carry the whole output). */
export function firstErrorLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const error = text.split("\n").find((l) => /^\s*error:/.test(l));
  return (error ?? text.split("\n")[0] ?? "").trim();
}
