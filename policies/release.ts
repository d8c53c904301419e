import type { ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { strictEnvironmentOf } from "./lib/environment";
import { known } from "./lib/policy";
import type { z } from "zod";
import type { ReleaseConfig } from "../src/config/schema";
import { TRAFFIC_SPLIT_TOKEN } from "../src/release/provider/token";

/** The release engine's dynamic resource (src/release/provider/token.ts is its one home). */
export const TRAFFIC_SPLIT = TRAFFIC_SPLIT_TOKEN;

/** Every key any strategy's release block may have, each optional: what the pack may find in a TrafficSplit's `release`. */
type AnyKeyOf<U> = U extends unknown ? keyof U : never;
type Loose<U> = { [K in AnyKeyOf<U>]?: U extends { [P in K]?: infer V } ? V : never };
/** The release block as the config schema takes it in (src/config/schema.ts), nothing assumed present: the pack checks, it does not trust. */
type Release = Loose<z.input<typeof ReleaseConfig>>;

function onRelease(check: (r: Release, args: ResourceValidationArgs, report: ReportViolation) => void): ResourceValidationPolicy["validateResource"] {
  const validate = (args: ResourceValidationArgs, report: ReportViolation) => {
    if (args.type !== TRAFFIC_SPLIT) return args.notApplicable(`only applies to ${TRAFFIC_SPLIT}`);
    const r = known(() => args.props["release"] as Release | undefined);
    if (r) check(r, args, report);
  };
  // The type the SDK reads to skip other resources without calling (and without an error per resource).
  return Object.assign(validate, { __pulumiType: TRAFFIC_SPLIT });
}

export const releaseProductionCanary: ResourceValidationPolicy = {
  name: "release-production-canary",
  description: "Production releases are canaries whose first step sends at most 10% of traffic, with analysis (step criteria) configured.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: onRelease((r, args, report) => {
    if (strictEnvironmentOf(args.props, args.urn) !== "production") return;
    if (r.strategy !== "canary") {
      report(`production release strategy is "${String(r.strategy)}": use strategy: canary with steps starting at 10% or less (e.g. 5, 10, 25, 50, 100).`);
      return;
    }
    const first = known(() => r.steps?.[0]);
    if (typeof first === "number" && first > 10) report(`the first canary step sends ${first}% of traffic: start at 10% or less (e.g. 5).`);
    const criteria = known(() => r.analysis?.stepCriteria);
    if (!r.analysis || !criteria || Object.keys(criteria).length === 0)
      report("the canary has no analysis: set release.analysis.stepCriteria (error rate and p95 per step) so each step is judged on metrics.");
  }),
};

export const releaseBlueGreenSmokeTests: ResourceValidationPolicy = {
  name: "release-blue-green-smoke-tests",
  description: "A blue-green release runs smoke tests (at least one critical check) against the idle colour before any traffic switches.",
  severity: "medium",
  enforcementLevel: "mandatory",
  validateResource: onRelease((r, _args, report) => {
    if (r.strategy !== "blue-green") return;
    const paths = known(() => r.smokeTests?.paths) ?? [];
    const ws = known(() => r.smokeTests?.websocketPath);
    if (paths.length === 0 && !ws)
      report("blue-green release has no critical smoke test: set release.smokeTests.paths (e.g. /health, /ready) and, for WebSocket services, websocketPath.");
  }),
};

export const releaseAutoRollback: ResourceValidationPolicy = {
  name: "release-auto-rollback",
  description:
    "Staging and production releases roll back automatically on a failed gate (autoRollback: true; a direct release has no rollback, so it is for dev only).",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: onRelease((r, args, report) => {
    const env = strictEnvironmentOf(args.props, args.urn);
    if (env === "dev") return;
    if (r.strategy === "direct") report(`${env} uses a direct release, which cannot roll back on a failed gate: use blue-green or canary.`);
    else if (known(() => r.autoRollback) !== true)
      report(`${env} release has autoRollback off: a failed gate would hold traffic on the candidate. Set release.autoRollback: true.`);
  }),
};

export const releaseWatchedHolds: ResourceValidationPolicy = {
  name: "release-watched-holds",
  description:
    "A release that can hold for a person (onInconclusive: hold, manualApproval, autoRollback off) names an approval source with a timeout, so a hold never leaves traffic at a partial weight with nobody watching.",
  severity: "high",
  enforcementLevel: "mandatory",
  validateResource: onRelease((r, _args, report) => {
    if (r.strategy === "direct") return;
    const holds = [
      ...(known(() => r.analysis?.onInconclusive) === "hold" ? ["analysis.onInconclusive: hold"] : []),
      ...(known(() => r.manualApproval) === true ? ["manualApproval: true"] : []),
      ...(known(() => r.autoRollback) === false ? ["autoRollback: false"] : []),
    ];
    if (holds.length === 0) return;
    const approval = known(() => r.approval);
    if (!approval?.source || !(Number(approval.timeoutSeconds) > 0))
      report(
        `the release can hold (${holds.join(", ")}) but names no approval source with a timeout: set release.approval ({ source: file|http, ..., timeoutSeconds }); a hold nobody answers then rolls back.`,
      );
  }),
};

export const releasePolicies = [releaseProductionCanary, releaseBlueGreenSmokeTests, releaseAutoRollback, releaseWatchedHolds];
