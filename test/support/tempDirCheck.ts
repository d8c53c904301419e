import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * vitest global setup: the whole run (every worker and every process a test
 * starts: Pulumi, HAProxy, Prometheus) gets one temp dir of its own through
 * TMPDIR. Whatever is left in it at the end was not cleaned up by the test
 * that made it: the run fails, naming the entries (then removes them).
 */
const TOOL_CACHES = /^(tsx-\d+|node-compile-cache|ts-node-[0-9a-f]{64})$/;

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "pd-tests-"));
  process.env["TMPDIR"] = dir;
  return () => {
    // Compile caches the tools keep in TMPDIR (tsx's tsx-<uid>, Node's node-compile-cache, ts-node's
    // ts-node-<hash> under the Pulumi language host): shared by every run, not a test's leftover.
    const left = readdirSync(dir).filter((e) => !TOOL_CACHES.test(e));
    rmSync(dir, { recursive: true, force: true });
    if (left.length === 0) return;
    // vitest reports an error thrown here but keeps exit code 0: set it, so the test command fails.
    process.exitCode = 1;
    throw new Error(
      `the test run left ${left.length} entr${left.length === 1 ? "y" : "ies"} in its temp dir (each test removes what it creates): ${left.sort().join(", ")}`,
    );
  };
}
