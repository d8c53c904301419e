/**
 * The TrafficSplit provider's behaviour, loaded by the serialized shim
 * inside Pulumi's dynamic-provider host (see trafficSplit.ts). Everything
 * the rollout needs is built per call from the inputs.
 */
import { describeForecast, forecast } from "../analysis/forecast";
import { decodeCheckpoint, releaseKeyOf } from "../checkpoint";
import { runRollout, type ProgressEvent, type RolloutResult } from "../driver";
import type { StepSummary } from "../record";
import type { StepRecord } from "../sequencer";
import { containsUnknown, TrafficSplitInputs } from "./inputs";
import { depsFor, routerFor, specFor } from "./wiring";

type Props = Record<string, unknown>;

/** Keys that make a new release: anything else (thresholds, intervals) changes no traffic. */
const RELEASE_KEYS = ["stable", "candidate", "retryToken", "immediate", "target"] as const;

const summarize = (records: StepRecord[]): StepSummary[] =>
  records.map((r) => ({
    step: r.step + 1,
    weight: r.weight,
    outcome: r.outcome ?? "in-progress",
    seconds: r.endedAt !== undefined ? Math.round((r.endedAt - r.startedAt) / 1000) : 0,
    candidateRequests: r.candidateRequests,
    stableRequests: r.stableRequests,
    // Infinity is not JSON; cap so the record survives the round trip through state.
    measurements: r.measurements.map((m) => ({ gate: m.gate, value: m.value, threshold: m.threshold, logEvidence: Math.min(m.logEvidence, 1e6), logBar: m.logBar })),
  }));

function progressLogger(): (e: ProgressEvent) => void {
  // The dynamic-provider host is started with the engine's address: log through it so `pulumi up` shows progress.
  const address = process.argv[2];
  let send: ((msg: string) => void) | undefined;
  if (address && /^[\w.-]+:\d+$/.test(address)) {
    try {
      const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
      const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
      const engproto = require("@pulumi/pulumi/proto/engine_pb");
      const client = new engrpc.EngineClient(address, grpc.credentials.createInsecure());
      send = (msg) => {
        const req = new engproto.LogRequest();
        req.setSeverity(engproto.LogSeverity.INFO);
        req.setMessage(msg);
        client.log(req, () => undefined);
      };
    } catch {
      send = undefined;
    }
  }
  return (e) => {
    const line =
      e.kind === "weight"
        ? `step ${e.step}/${e.of}: ${e.weight}% to the candidate`
        : e.kind === "window"
          ? `step ${e.step} at ${e.weight}%: ${e.line}`
          : e.kind === "gate"
            ? `gate ${e.gate}: ${e.passed ? "passed" : "FAILED"} (${e.detail})`
            : e.kind === "rollback"
              ? `ROLLBACK: ${e.reason}; traffic back on stable in ${e.restoreMs} ms; ${e.drained}`
              : e.kind === "done"
                ? `${e.phase}: ${e.message}`
                : e.message;
    process.stderr.write(`[traffic-split] ${line}\n`);
    send?.(`[traffic-split] ${line}`);
  };
}

function outputs(i: TrafficSplitInputs, r: RolloutResult, provider: unknown): Props {
  const s = r.state;
  const rejected = s.phase === "rolled-back" || s.phase === "rejected";
  return {
    ...i,
    __provider: provider,
    phase: s.phase,
    stableRevision: s.phase === "promoted" ? i.candidate : i.stable,
    candidateRevision: i.candidate,
    rejectedRevision: rejected ? i.candidate : null,
    liveCandidateWeight: s.weight,
    failure: s.failure,
    message: r.message,
    steps: summarize(s.records),
    restoreMs: r.restoreMs,
    releaseKey: releaseKeyOf(i.stable, i.candidate, i.retryToken),
    startedAt: new Date(s.startedAt).toISOString(),
    finishedAt: new Date(s.updatedAt).toISOString(),
  };
}

/** State holds inputs and outputs side by side; keep the inputs to re-validate them. */
const inputsOnly = (props: Props): Props => Object.fromEntries(Object.entries(props).filter(([k]) => k in TrafficSplitInputs.shape));

const idOf = (i: TrafficSplitInputs) => {
  const t = i.target;
  return t.kind === "cloud-run" ? `cloud-run:projects/${t.project}/locations/${t.region}/services/${t.service}` : t.kind === "http-route" ? `http-route:${t.namespace}/${t.name}` : `haproxy:${t.runtimeApi}/${t.backend}`;
};

export async function check(_olds: Props, news: Props) {
  // During preview any input may be the unknown sentinel; validate only what is known.
  if (containsUnknown(news)) return { inputs: news };
  const { __provider, ...rest } = news;
  void __provider;
  const parsed = TrafficSplitInputs.safeParse(rest);
  if (!parsed.success) return { inputs: news, failures: parsed.error.issues.map((e) => ({ property: e.path.join(".") || "inputs", reason: e.message })) };
  return { inputs: parsed.data as unknown as Props };
}

export async function diff(_id: string, olds: Props, news: Props) {
  const changed = RELEASE_KEYS.filter((k) => containsUnknown(news[k]) || JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
  const strategy = (o: Props) => JSON.stringify([(o["release"] as Props | undefined)?.["strategy"], (o["release"] as Props | undefined)?.["steps"], (o["release"] as Props | undefined)?.["switch"]]);
  if (containsUnknown(news["release"]) || strategy(olds) !== strategy(news)) changed.push("release" as never);
  return { changes: changed.length > 0, replaces: changed.includes("target") ? ["target"] : [], deleteBeforeReplace: false };
}

async function rollout(props: Props): Promise<{ id: string; outs: Props }> {
  const { __provider, ...rest } = props;
  const i = TrafficSplitInputs.parse(rest);
  const log = progressLogger();
  const spec = specFor(i);
  if (i.release.strategy !== "direct" && !i.immediate) log({ kind: "info", message: describeForecast(forecast(spec, i.release.analysis.expectedRps)) });
  const router = await routerFor(i);
  const deps = await depsFor(i, router, log);
  const result = await runRollout(
    {
      spec,
      stable: i.stable,
      candidate: i.candidate,
      releaseKey: releaseKeyOf(i.stable, i.candidate, i.retryToken),
      intervalMs: i.intervalSeconds * 1000,
      deadlineMs: i.deadlineSeconds * 1000,
      approvalWaitMs: i.approvalWaitSeconds * 1000,
    },
    deps,
  );
  const outs = outputs(i, result, __provider);
  const id = idOf(i);
  if (result.alreadyDecided) {
    // Not retried: the outputs keep saying it was rejected, and the update goes through.
    return { id, outs };
  }
  if (result.phase !== "promoted") {
    // Recorded in state (the engine keeps these outputs) and the update fails with the reason.
    throw Object.assign(new Error(`traffic split ${id}: ${result.message}`), { id, properties: outs, reasons: [result.message] });
  }
  return { id, outs };
}

export const create = (inputs: Props) => rollout(inputs);

export async function update(_id: string, _olds: Props, news: Props) {
  const { outs } = await rollout(news);
  return { outs };
}

/** Refresh: the router's live weight and the checkpoint are the truth. */
export async function read(id: string, props: Props) {
  const { __provider, ...rest } = props;
  const parsed = TrafficSplitInputs.safeParse(inputsOnly(rest));
  if (!parsed.success) return { id, props };
  const router = await routerFor(parsed.data);
  const live = await router.currentWeight();
  const { checkpoint } = decodeCheckpoint(await router.readCheckpoint());
  const mine = checkpoint?.releaseKey === releaseKeyOf(parsed.data.stable, parsed.data.candidate, parsed.data.retryToken) ? checkpoint.state : null;
  return { id, props: { ...props, __provider, liveCandidateWeight: live, ...(mine ? { phase: mine.phase } : {}) } };
}

/** Deleting the resource never moves traffic, except that an unfinished rollout goes back to stable. */
export async function remove(_id: string, props: Props) {
  const { __provider, ...rest } = props;
  void __provider;
  const parsed = TrafficSplitInputs.safeParse(inputsOnly(rest));
  if (!parsed.success) return;
  const router = await routerFor(parsed.data);
  const { checkpoint } = decodeCheckpoint(await router.readCheckpoint());
  const phase = checkpoint?.state.phase;
  if (phase && !["promoted", "rolled-back", "rejected"].includes(phase) && (await router.currentWeight()) > 0) {
    await router.rollback(JSON.stringify({ ...checkpoint, state: { ...checkpoint!.state, phase: "rolled-back", weight: 0 } }));
  }
}
