import { describe, expect, it } from "vitest";
import { chooseUpdate, configChanges, configForCli, programFiles, type HistoryEntry } from "../../src/rollback/plan";

const update = (result: string, config: Record<string, { value: string; secret?: boolean }> = { "p:v": { value: result } }, kind = "update"): HistoryEntry => ({
  kind,
  result,
  startTime: "2026-11-22T10:00:00Z",
  config,
  environment: {},
});

describe("choosing the update a rollback redeploys", () => {
  // Newest first, as Pulumi returns history; a file backend reports version 0 for all.
  const history = [
    update("succeeded", { "p:v": { value: "4" } }),
    update("failed"),
    update("succeeded", { "p:v": { value: "2" } }),
    update("succeeded", { "p:v": { value: "1" } }),
  ];

  it("defaults to the last successful update before the newest, numbering a file backend's updates from the oldest", () => {
    const c = chooseUpdate("dev", history);
    expect(c.ok && [c.current.version, c.target.version, c.target.config!["p:v"]!.value]).toEqual([4, 2, "2"]);
  });

  it("takes --to when it names a successful older update, and says why not otherwise", () => {
    const c = chooseUpdate("dev", history, 1);
    expect(c.ok && c.target.config!["p:v"]!.value).toBe("1");
    expect(chooseUpdate("dev", history, 3)).toEqual({
      ok: false,
      problem: "update 3 of stack dev did not succeed (update: failed): only a successful update can be redeployed",
    });
    expect(chooseUpdate("dev", history, 9)).toEqual({ ok: false, problem: "stack dev has no update 9 (its history has 4, 3, 2, 1)" });
    expect(chooseUpdate("dev", history, 4)).toEqual({ ok: false, problem: "update 4 is already the newest update of stack dev" });
    expect(chooseUpdate("dev", [])).toEqual({ ok: false, problem: "stack dev has no updates in its history: there is nothing to roll back to" });
    expect(chooseUpdate("dev", [update("succeeded"), update("failed")])).toEqual({ ok: false, problem: "stack dev has no successful update before update 2" });
    expect(chooseUpdate("dev", [update("succeeded"), update("succeeded", {})])).toEqual({
      ok: false,
      problem: "update 1 of stack dev recorded no configuration: it cannot be redeployed as it was",
    });
  });

  it("keeps Pulumi Cloud's own version numbers", () => {
    const c = chooseUpdate("prod", [
      { ...update("succeeded"), version: 12 },
      { ...update("succeeded"), version: 11 },
    ]);
    expect(c.ok && c.target.version).toBe(11);
  });
});

describe("what a rollback shows and sets", () => {
  it("lists changed keys and never a secret's value", () => {
    const lines = configChanges(
      { "p:a": { value: "1" }, "p:token": { value: "old-secret", secret: true }, "p:gone": { value: "x" } },
      { "p:a": { value: "2" }, "p:token": { value: "new-secret", secret: true }, "p:new": { value: "y" } },
    );
    expect(lines).toEqual(['p:a: "1" -> "2"', 'p:gone: "x" -> (unset)', 'p:new: (unset) -> "y"', "p:token: [secret] changes"]);
    expect(lines.join("\n")).not.toMatch(/old-secret|new-secret/);
    expect(configChanges({ "p:a": { value: "1" } }, { "p:a": { value: "1" } })).toEqual([]);
  });

  it("writes config set-all JSON with objects as objects, and keeps every secret out of it (they are set from stdin)", () => {
    const { json, secrets } = configForCli({
      "p:obj": { value: '{"a":[1,2]}' },
      "p:s": { value: "{not json", secret: false },
      "p:k": { value: '{"x":"sentinel-secret-value"}', secret: true },
      "p:releaseImmediately": { value: "true" },
    });
    expect(JSON.parse(json)).toEqual({
      "p:obj": { value: '{"a":[1,2]}', secret: false, objectValue: { a: [1, 2] } },
      "p:s": { value: "{not json", secret: false },
      "p:releaseImmediately": { value: "true", secret: false },
    });
    expect(json).not.toContain("sentinel-secret-value");
    expect(secrets).toEqual([["p:k", '{"x":"sentinel-secret-value"}']]);
  });

  it("counts program files, not stack config files or docs, as a changed program", () => {
    expect(programFiles(["src/index.ts", "Pulumi.production.yaml", "test/e2e/project/Pulumi.dev.yaml", "README.md", "", "Pulumi.yaml"])).toEqual([
      "src/index.ts",
      "Pulumi.yaml",
    ]);
  });
});
