import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

import type { ReleaseRecord, StepSummary } from "../record";
import type { Failure, Phase } from "../sequencer";
import type { z } from "zod";
import type { TrafficSplitInputs } from "./inputs";

/**
 * The TrafficSplit resource. Its provider is a thin shim: Pulumi serializes
 * the provider object into state and runs it in the dynamic-provider host,
 * a separate Node process without TypeScript support. The shim captures
 * only two file paths and loads the real engine (engine.ts) through tsx's
 * CommonJS API inside each call, so:
 *  - nothing imported at module scope is captured (which breaks closure
 *    serialization under vitest and with SDK clients);
 *  - `__provider` stays the same when the engine changes, so a code change
 *    alone never shows up as a diff, and `delete` of an old resource runs
 *    the current engine rather than stale code kept in state.
 */

import { TRAFFIC_SPLIT_MODULE, TRAFFIC_SPLIT_TYPE } from "./token";
export { TRAFFIC_SPLIT_MODULE, TRAFFIC_SPLIT_TOKEN, TRAFFIC_SPLIT_TYPE } from "./token";

const ENGINE_FILE = path.resolve(__dirname, "engine.ts");
const ENGINE_RELATIVE = "src/release/provider/engine.ts";

/** Loads the engine in whatever process runs the provider. Self-contained: it is serialized. */
function loadEngine(): typeof import("./engine") {
  const req: (id: string) => unknown = process.mainModule?.require.bind(process.mainModule) ?? (eval("require") as (id: string) => unknown);
  const fs = req("fs") as typeof import("fs");
  const p = req("path") as typeof import("path");
  // The host runs in the Pulumi project's directory; fall back to where the program was when it serialized us.
  const file = [p.resolve(process.cwd(), ENGINE_RELATIVE), ENGINE_FILE].find((f) => fs.existsSync(f));
  if (!file) throw new Error(`TrafficSplit provider: cannot find its engine (${ENGINE_RELATIVE} under ${process.cwd()}, or ${ENGINE_FILE})`);
  // Resolve tsx from the engine's own project, whatever directory the host runs in.
  const fromEngine = (req("module") as typeof import("module")).createRequire(file);
  const tsx = fromEngine("tsx/cjs/api") as { require: (id: string, from: string) => unknown };
  return tsx.require(file, file) as typeof import("./engine");
}

// The SDK types a dynamic provider's properties as `any`; the engine's first step (check) parses them.
type Props = Record<string, unknown>;
export const trafficSplitProvider: pulumi.dynamic.ResourceProvider = {
  check: (olds: Props, news: Props) => loadEngine().check(olds, news),
  diff: (id: string, olds: Props, news: Props) => loadEngine().diff(id, olds, news),
  create: (inputs: Props) => loadEngine().create(inputs),
  update: (id: string, olds: Props, news: Props) => loadEngine().update(id, olds, news),
  read: (id: string, props: Props) => loadEngine().read(id, props),
  delete: (id: string, props: Props) => loadEngine().remove(id, props),
};

/**
 * The resource's inputs, typed from the one schema its `check` parses them
 * with (src/release/provider/inputs.ts): what a component may pass is what
 * the provider accepts, each key a Pulumi input. Secrets among them (a
 * kubeconfig, the Vercel token, the webhook secret) stay secret in state.
 */
type Inputs = z.input<typeof TrafficSplitInputs>;
export type TrafficSplitArgs = { [K in keyof Inputs]: pulumi.Input<Inputs[K]> };

/** Outputs seeded as undefined so the SDK knows them; they double as the release record. */
const OUTPUTS = [
  "phase",
  "stableRevision",
  "candidateRevision",
  "rejectedRevision",
  "liveCandidateWeight",
  "failure",
  "message",
  "steps",
  "restoreMs",
  "drain",
  "releaseKey",
  "startedAt",
  "finishedAt",
] as const;

export class TrafficSplit extends pulumi.dynamic.Resource {
  declare readonly phase: pulumi.Output<Phase>;
  declare readonly stableRevision: pulumi.Output<string>;
  declare readonly candidateRevision: pulumi.Output<string>;
  declare readonly rejectedRevision: pulumi.Output<string | null>;
  declare readonly liveCandidateWeight: pulumi.Output<number>;
  declare readonly failure: pulumi.Output<Failure | null>;
  declare readonly message: pulumi.Output<string>;
  declare readonly steps: pulumi.Output<StepSummary[]>;
  declare readonly restoreMs: pulumi.Output<number | null>;
  /** What a rollback did with the candidate's open connections (drained, closed, or the bound Cloud Run keeps). */
  declare readonly drain: pulumi.Output<string | null>;
  declare readonly releaseKey: pulumi.Output<string>;
  declare readonly startedAt: pulumi.Output<string>;
  declare readonly finishedAt: pulumi.Output<string>;

  constructor(name: string, args: TrafficSplitArgs, opts?: pulumi.CustomResourceOptions) {
    const seeded = Object.fromEntries(OUTPUTS.map((k) => [k, undefined]));
    super(
      trafficSplitProvider,
      name,
      { ...seeded, ...args },
      // Credentials inside target (kubeconfig), followers (Vercel token), metrics and the webhook secret stay secret in state.
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "target", "followers", "metrics", "webhookSecret"] },
      TRAFFIC_SPLIT_MODULE,
      TRAFFIC_SPLIT_TYPE,
    );
  }
}

/** The release record a stack exports (its `releases` output; `npm run status` reads it). */
export function releaseRecord(split: TrafficSplit): pulumi.Output<ReleaseRecord> {
  const { phase, stableRevision, candidateRevision, liveCandidateWeight, message, failure, restoreMs, startedAt, finishedAt, steps } = split;
  // output() of an object unwraps each property's Output into one typed record.
  return pulumi
    .output({ phase, stableRevision, candidateRevision, liveCandidateWeight, message, failure, restoreMs, startedAt, finishedAt, steps })
    .apply((r): ReleaseRecord => ({
      ...r,
      // The evidence figures stay in state; the record keeps what a person reads.
      steps: r.steps.map((st) => ({ ...st, measurements: st.measurements.map((m) => ({ gate: m.gate, value: m.value, threshold: m.threshold })) })),
    }));
}
