import { describe, expect, it } from "vitest";
import { runToEnd, TSX } from "../support/processes";
import { ROOT } from "../support/stacks";

describe("policy benchmark (npm run bench:policies)", () => {
  it("analyses every resource of the production stack through the pack and reports per-resource times, without touching BENCHMARKS.md under --json", async () => {
    const r = await runToEnd(TSX, ["bench/policies/index.ts", "--rounds", "1", "--json"], { cwd: ROOT, timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      resources: number;
      policies: number;
      msPerResource: { median: number };
      packCpuMsPerResource: number;
      goalMsPerResource: number;
    };
    expect(out.resources).toBeGreaterThan(50);
    expect(out.policies).toBeGreaterThan(30);
    expect(out.msPerResource.median).toBeGreaterThan(0);
    expect(out.packCpuMsPerResource).toBeGreaterThanOrEqual(0);
    expect(out.goalMsPerResource).toBe(1);
    const bad = await runToEnd(TSX, ["bench/policies/index.ts", "--rounds", "0"], { cwd: ROOT, timeoutMs: 60_000 });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--rounds must be an integer from 1 to 1000 (found 0)");
  }, 180_000);
});
