import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

/** Every scratch dir the current test file made. */
const made: string[] = [];
const removeAll = () => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
};
// Imported while a test file is collected, so this hook belongs to that file: its dirs go when it ends.
// (Test-only: support modules a benchmark also runs remove their own dirs when stopped.)
afterAll(removeAll);

/** A fresh temp dir, removed when the test file that asked for it ends (after its own afterAll hooks stop what runs in it). */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
