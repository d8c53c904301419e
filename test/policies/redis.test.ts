import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNKNOWN } from "../../src/policy/analyzer";
import { of, PackUnderTest } from "../support/policyPack";

let pack: PackUnderTest;
beforeAll(async () => {
  pack = await PackUnderTest.start();
}, 60_000);
afterAll(async () => pack?.stop());

const REDIS = "gcp:redis/instance:Instance";

/** The Memorystore instance as websocketBackend.ts declares it. */
function redis(edit: (r: Record<string, any>) => void = () => {}): Record<string, unknown> {
  const r: Record<string, any> = {
    name: "ws-backend-redis",
    region: "europe-west1",
    tier: "STANDARD_HA",
    memorySizeGb: 1,
    authorizedNetwork: "projects/acme-prod/global/networks/vpc",
    connectMode: "DIRECT_PEERING",
    authEnabled: true,
    transitEncryptionMode: "SERVER_AUTHENTICATION",
    redisVersion: "REDIS_7_2",
    labels: { env: "production", owner: "platform", "managed-by": "pulumi" },
  };
  edit(r);
  return r;
}
const details = async (props: Record<string, unknown>, policy: string) => of(await pack.analyze(REDIS, props), policy).map((d) => d.detail);

describe("Memorystore for Redis", () => {
  it("the program's instance (AUTH, TLS) passes every policy", async () => {
    expect((await pack.analyze(REDIS, redis())).diagnostics).toEqual([]);
  });

  it.each<[string, (r: Record<string, any>) => void, string]>([
    ["redis-auth-enabled", (r) => delete r.authEnabled, "authEnabled is not set (off)"],
    ["redis-auth-enabled", (r) => (r.authEnabled = false), "authEnabled is false"],
    ["redis-transit-encryption", (r) => delete r.transitEncryptionMode, "transitEncryptionMode is not set (DISABLED)"],
    ["redis-transit-encryption", (r) => (r.transitEncryptionMode = "DISABLED"), 'transitEncryptionMode is "DISABLED"'],
  ])("%s fails (%#)", async (policy, edit, message) => {
    expect(await details(redis(edit), policy)).toEqual([expect.stringContaining(message)]);
  });

  it("computed values wait for the update", async () => {
    expect(
      (
        await pack.analyze(
          REDIS,
          redis((r) => ((r.authEnabled = UNKNOWN), (r.transitEncryptionMode = UNKNOWN))),
        )
      ).diagnostics,
    ).toEqual([]);
  });
});
