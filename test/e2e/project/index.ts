import * as pulumi from "@pulumi/pulumi";
import { releaseRecord, TrafficSplit, type TrafficSplitArgs } from "../../../src/release/provider/trafficSplit";

/**
 * The engine tests' program: one TrafficSplit whose inputs come whole from
 * the stack's `rollout` config (a proving ground's target and metrics, the
 * release settings, the two revisions), so each test sets the scenario in
 * the stack's config file and runs the real CLI.
 */
const config = new pulumi.Config();
const rollout = config.requireObject<TrafficSplitArgs>("rollout");
// Set by `npm run rollback -- --immediate`, as in the stacks' own program.
const immediate = config.getBoolean("releaseImmediately");
// A secret input, as the stacks pass releaseWebhookSecret: it must stay secret everywhere (state, outputs, logs, command lines).
const webhookSecret = config.getSecret("webhookSecret");
const split = new TrafficSplit("release", { ...rollout, ...(immediate ? { immediate } : {}), ...(webhookSecret ? { webhookSecret } : {}) });

export const phase = split.phase;
export const message = split.message;
export const stableRevision = split.stableRevision;
export const liveCandidateWeight = split.liveCandidateWeight;
// What `npm run status` reads, as the stacks export it.
export const releases = { release: releaseRecord(split) };
