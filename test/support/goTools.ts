import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./stacks";

/**
 * Path of a Go tool built by scripts/ensure-go-tools.sh (run here too, so a
 * bare `vitest` works; it returns at once when the tools are cached).
 */
export function goTool(name: "actionlint" | "psa-oracle"): string {
  execFileSync("bash", [join(ROOT, "scripts", "ensure-go-tools.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  return join(toolsCache(), name);
}

/** Directory of the Pulumi CLI, its Node.js language host and plugin shims, built by scripts/ensure-pulumi-cli.sh. */
export function pulumiCliDir(): string {
  execFileSync("bash", [join(ROOT, "scripts", "ensure-pulumi-cli.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  // The real directory, not the cache's symlink: the CLI compares plugin paths on $PATH with its own directory.
  return realpathSync(join(toolsCache(), "pulumi"));
}

const toolsCache = () => process.env["PD_TOOLS_CACHE"] ?? join(process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache"), "progressive-delivery", "tools");
