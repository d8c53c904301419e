import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import { PROJECT } from "../src/config/load";
import { OfflineCloud } from "../src/plan/offlineCloud";
import { readStackFile } from "../src/plan/stackFile";
import { editedStackFile } from "./support/stacks";

describe("the Pulumi program entry point (src/index.ts)", () => {
  it("rejects bad config with every problem and registers no resource", async () => {
    const file = editedStackFile("production", (c) => {
      (c[`${PROJECT}:backend`] as Record<string, unknown>)["minInstances"] = 40;
      c[`${PROJECT}:vercelApiToken`] = "tok_must_not_leak_9f";
    });
    const source = readStackFile(file, "production");
    const config = Object.fromEntries(Object.entries(source.values).map(([k, v]) => [`${PROJECT}:${k}`, v]));
    pulumi.runtime.setAllConfig(
      config,
      [...source.secretKeys].map((k) => `${PROJECT}:${k}`),
    );
    const cloud = new OfflineCloud();
    const seen = vi.spyOn(cloud, "newResource");
    await pulumi.runtime.setMocks(cloud, PROJECT, "production", false);
    vi.resetModules();

    const error = await import("../src/index").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(pulumi.RunError);
    const message = (error as Error).message;
    expect(message).toContain('stack "production" (Pulumi.production.yaml)');
    expect(message).toContain(`${PROJECT}:backend.minInstances: must not exceed backend.maxInstances (40 > 20)`);
    expect(message).toContain(`${PROJECT}:vercelApiToken: must be set with \`pulumi config set --secret\``);
    expect(message).not.toContain("tok_must_not_leak_9f");
    expect(seen).not.toHaveBeenCalled();
  });
});
