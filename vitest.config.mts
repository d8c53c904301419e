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
    // The commands run under tsx, whose CommonJS hook compiles each file through esbuild's synchronous API. By default
    // that API keeps a worker thread and an esbuild child; twice in about ten full runs a command stopped forever after its
    // last output, its main thread waiting on that worker while the esbuild child had already exited. Without the worker,
    // each compile is its own short esbuild process and a failed one is an error, not a wait. (The npm scripts set it too.)
    env: { ESBUILD_WORKER_THREADS: "0" },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
