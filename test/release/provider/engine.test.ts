import { describe, expect, it } from "vitest";
import { deepMerge, releaseDefaults } from "../../../src/config/defaults";
import { restoreStable } from "../../../src/release/provider/engine";
import { TrafficSplitInputs } from "../../../src/release/provider/inputs";
import { MemoryRouter } from "../../support/fakes";

const inputs = () =>
  TrafficSplitInputs.parse({
    environment: "dev",
    stable: "v1",
    candidate: "v2",
    release: deepMerge(releaseDefaults("dev", { strategy: "direct" }), { smokeTests: { paths: ["/health"], websocketPath: null, retries: 0 } }),
    target: { kind: "haproxy", runtimeApi: "127.0.0.1:1", backend: "be_app", stateFile: "state.json" },
    metrics: { url: "http://127.0.0.1:1", preset: "haproxy", scope: "be_app" },
  });

describe("restore-stable (rollout --restore-stable)", () => {
  it("a restore write the adapter retries after it landed (its answer lost) is still this command's own: stable gets 100%", async () => {
    const router = new MemoryRouter("v1", "v2");
    router.weight = 25;
    router.failedWrites = ["landed"];
    const out = await restoreStable(inputs(), { reason: "test", force: true, log: () => undefined, routerOf: async () => router });
    expect(out.moved).toBe(true);
    expect(router.weight).toBe(0);
    expect(router.calls).toContain("write landed, retried");
  });

  it("a checkpoint another engine writes meanwhile still stops it, moving nothing", async () => {
    const router = new MemoryRouter("v1", "v2");
    router.weight = 25;
    const write = router.rollback.bind(router);
    router.rollback = async (w, plan) => {
      router.checkpoint = '{"someone":"else"}';
      return write(w, plan);
    };
    await expect(restoreStable(inputs(), { reason: "test", force: true, log: () => undefined, routerOf: async () => router })).rejects.toThrow(
      /changed while restoring stable/,
    );
    expect(router.weight).toBe(25);
  });
});
