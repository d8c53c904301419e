import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./pack";

// Constructing the pack starts its analyzer server: keep this file to this one statement.
new PolicyPack(PACK_NAME, {
  description: "Security and release gates for the progressive-delivery stacks: mandatory in production, relaxed per environment by config/<stack>.json.",
  enforcementLevel: "mandatory",
  policies,
});
