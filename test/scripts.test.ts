import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./support/stacks";

/**
 * scripts/check-release-ref.sh against a real git repository: a remote with
 * a main branch, a tag cut from main, and a branch that never reached main.
 */
const dir = mkdtempSync(join(tmpdir(), "release-ref-"));
const remote = join(dir, "remote.git");
const work = join(dir, "work");
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
  }).trim();
const check = (...args: string[]) => spawnSync("bash", [join(ROOT, "scripts", "check-release-ref.sh"), ...args], { cwd: join(dir, "clone"), encoding: "utf8" });
const commits: Record<string, string> = {};

beforeAll(() => {
  execFileSync("git", ["init", "--quiet", "--bare", "--initial-branch=main", remote]);
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", work]);
  const commit = (name: string) => {
    writeFileSync(join(work, name), name);
    git(work, "add", name);
    git(work, "commit", "--quiet", "-m", name);
    return git(work, "rev-parse", "HEAD");
  };
  commits["first"] = commit("first");
  git(work, "tag", "v1.0.0");
  commits["second"] = commit("second");
  git(work, "checkout", "--quiet", "-b", "feature");
  commits["feature"] = commit("feature");
  git(work, "tag", "v9.9.9-evil");
  git(work, "remote", "add", "origin", remote);
  git(work, "push", "--quiet", "origin", "main", "feature", "--tags");
  execFileSync("git", ["clone", "--quiet", remote, join(dir, "clone")]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("scripts/check-release-ref.sh", () => {
  it("accepts a tag cut from main and a commit of main, printing the commit", () => {
    expect(check("v1.0.0", "main")).toMatchObject({ status: 0, stdout: `${commits["first"]}\n` });
    expect(check(commits["second"]!, "main")).toMatchObject({ status: 0, stdout: `${commits["second"]}\n` });
    expect(check("refs/tags/v1.0.0", "main").status).toBe(0);
  });

  it("refuses a branch, a tag or a commit that never reached main, and anything unknown", () => {
    for (const ref of ["v9.9.9-evil", "origin/feature", commits["feature"]!]) {
      const r = check(ref, "main");
      expect(r.status, ref).toBe(1);
      expect(r.stderr).toMatch(/is not on main's history: only tags and commits of main are deployed/);
    }
    expect(check("no-such-ref", "main").stderr).toContain("no-such-ref is not a tag or commit of this repository");
    expect(check("--upload-pack=touch", "main").stderr).toContain("refusing a ref that starts with '-'");
    expect(check("", "main").status).toBe(1);
  });
});
