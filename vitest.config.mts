import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The run's own TMPDIR; the run fails if any test leaves something in it.
    globalSetup: ["test/support/tempDirCheck.ts"],
    // Pulumi's runtime state is per process: one fork per file keeps stacks apart.
    pool: "forks",
    // One file at a time: the live tests judge real latency on loopback (proving ground, engine
    // tests), and a CPU-heavy neighbour (the engine tests type-check the policy pack under ts-node)
    // made a healthy candidate look 30x slower than stable. About 10 minutes in all.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
