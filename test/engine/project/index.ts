import * as pulumi from "@pulumi/pulumi";
import { TrafficSplit, type TrafficSplitArgs } from "../../../src/release/provider/trafficSplit";

/**
 * The engine tests' program: one TrafficSplit whose inputs come whole from
 * the stack's `rollout` config (a proving ground's target and metrics, the
 * release settings, the two revisions), so each test sets the scenario with
 * `pulumi config set --path` / `--json` and runs the real CLI.
 */
const rollout = new pulumi.Config().requireObject<TrafficSplitArgs>("rollout");
const split = new TrafficSplit("release", rollout);

export const phase = split.phase;
export const message = split.message;
export const stableRevision = split.stableRevision;
export const liveCandidateWeight = split.liveCandidateWeight;
