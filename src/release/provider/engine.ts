/**
 * The TrafficSplit provider's behaviour, loaded by the serialized shim
 * inside Pulumi's dynamic-provider host (see trafficSplit.ts). Everything
 * the rollout needs is built per call from the inputs.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { describeForecast, forecast } from "../analysis/forecast";
import { forecastRefusal } from "../plan";
import { decodeCheckpoint, encodeCheckpoint, releaseKeyOf } from "../checkpoint";
import { runRollout, type ProgressEvent, type RolloutResult } from "../driver";
import type { StepSummary } from "../record";
import { LeaseLost, targetIdOf, type Router } from "../routers/router";
import { processGone } from "../liveness";
import { failureAt, start, TERMINAL, type StepRecord } from "../sequencer";
import { describeSplit, shareOf } from "../split";
import { containsUnknown, Target, TrafficSplitInputs } from "./inputs";
import { depsFor, optionsFor, routerFor, specFor } from "./wiring";

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
    measurements: r.measurements.map((m) => ({
      gate: m.gate,
      value: Number.isFinite(m.value) ? m.value : 1e6,
      threshold: m.threshold,
      logEvidence: Math.min(m.logEvidence, 1e6),
      logBar: m.logBar,
    })),
  }));

/** One line per progress event, the same wherever it is printed. */
export function progressLine(e: ProgressEvent): string {
  switch (e.kind) {
    case "weight":
      return `step ${e.step}/${e.of}: ${e.weight}% to the candidate`;
    case "window":
      return `  step ${e.step} @ ${e.weight}%: ${e.line}`;
    case "gate":
      return `gate ${e.gate}: ${e.passed ? "passed" : "FAILED"} (${e.detail})`;
    case "health":
      return `health check failed (${e.failures} in a row): ${e.detail}`;
    case "metrics-unavailable":
      return `metrics unavailable${e.seconds > 0 ? ` for ${e.seconds} s` : ""}: ${e.error}`;
    case "rollback":
      return `ROLLBACK: ${e.reason}; traffic back on stable in ${e.restoreMs} ms; ${e.drained}`;
    case "done":
      return `${e.phase}: ${e.message}`;
    case "info":
      return e.message;
  }
}

/**
 * Progress goes to the engine's log service only, so `pulumi up` shows each
 * line once (in its live stream and under the resource). Without an engine
 * (tests calling the provider directly) it goes to stderr.
 */
interface ProgressLog {
  (e: ProgressEvent): void;
  /** Resolves once every line sent so far has been answered by the engine. */
  flushed(): Promise<void>;
}

function progressLogger(): ProgressLog {
  // The dynamic-provider host is started with the engine's address: log through it so `pulumi up` shows progress.
  const address = process.argv[2];
  let send: ((msg: string) => Promise<void>) | undefined;
  if (address && /^[\w.-]+:\d+$/.test(address)) {
    try {
      // Loaded here, not at module scope: only the provider host (which has an engine to log to) needs them.
      /* eslint-disable @typescript-eslint/no-require-imports */
      const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
      const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb") as typeof import("@pulumi/pulumi/proto/engine_grpc_pb");
      const engproto = require("@pulumi/pulumi/proto/engine_pb") as typeof import("@pulumi/pulumi/proto/engine_pb");
      /* eslint-enable @typescript-eslint/no-require-imports */
      const client = new engrpc.EngineClient(address, grpc.credentials.createInsecure());
      send = (msg) => {
        const req = new engproto.LogRequest();
        req.setSeverity(engproto.LogSeverity.INFO);
        req.setMessage(msg);
        // Ephemeral: shown once, in the live stream, not again under Diagnostics (the outcome is in the outputs or the error).
        req.setEphemeral(true);
        // An engine that does not answer never holds the release up: at most 5 s a line.
        return new Promise((resolve) => {
          setTimeout(resolve, 5000).unref();
          client.log(req, () => resolve());
        });
      };
    } catch {
      send = undefined;
    }
  }
  // One call at a time, so the lines arrive in the order the events happened.
  let queue = Promise.resolve();
  const log = (e: ProgressEvent) => {
    // One event, one line: a multi-line message (the forecast) is folded.
    const line = `[traffic-split] ${progressLine(e)
      .replace(/:\n\s*/, ": ")
      .replace(/\n\s*/g, "; ")}`;
    if (send) {
      const s = send;
      queue = queue.then(() => s(line));
    } else process.stderr.write(`${line}\n`);
  };
  return Object.assign(log, { flushed: () => queue });
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
    drain: r.drain,
    releaseKey: releaseKeyOf(i.stable, i.candidate, i.retryToken),
    startedAt: new Date(s.startedAt).toISOString(),
    finishedAt: new Date(s.updatedAt).toISOString(),
  };
}

/** State holds inputs and outputs side by side; keep the inputs to re-validate them. */
const inputsOnly = (props: Props): Props => Object.fromEntries(Object.entries(props).filter(([k]) => k in TrafficSplitInputs.shape));

const idOf = (router: Router) => router.target;

export async function check(_olds: Props, news: Props) {
  // During preview any input may be the unknown sentinel; validate only what is known.
  if (containsUnknown(news)) return { inputs: news };
  const { __provider, ...rest } = news;
  void __provider;
  const parsed = TrafficSplitInputs.safeParse(rest);
  if (!parsed.success) return { inputs: news, failures: parsed.error.issues.map((e) => ({ property: e.path.join(".") || "inputs", reason: e.message })) };
  const refusal = forecastRefusal(parsed.data, specFor(parsed.data));
  if (refusal) return { inputs: news, failures: [{ property: "release", reason: refusal }] };
  return { inputs: { ...parsed.data, __provider } as unknown as Props };
}

export async function diff(_id: string, olds: Props, news: Props) {
  const changed = RELEASE_KEYS.filter((k) => containsUnknown(news[k]) || JSON.stringify(olds[k] ?? null) !== JSON.stringify(news[k] ?? null));
  const strategy = (o: Props) =>
    JSON.stringify([
      (o["release"] as Props | undefined)?.["strategy"],
      (o["release"] as Props | undefined)?.["steps"],
      (o["release"] as Props | undefined)?.["switch"],
    ]);
  if (containsUnknown(news["release"]) || strategy(olds) !== strategy(news)) changed.push("release" as never);
  // A new home for the split replaces the resource; a new URL, endpoint or credential for the same one does not.
  const home = (t: unknown) => {
    const parsed = containsUnknown(t) ? undefined : Target.safeParse(t);
    return parsed?.success ? targetIdOf(parsed.data) : JSON.stringify(t ?? null);
  };
  const moved = changed.includes("target") && home(olds["target"]) !== home(news["target"]);
  return { changes: changed.length > 0, replaces: moved ? ["target"] : [], deleteBeforeReplace: false };
}

async function rollout(props: Props): Promise<{ id: string; outs: Props }> {
  const { __provider, ...rest } = props;
  // Parsed again although check parsed it: check lets values unknown during preview through, and they arrive here resolved.
  const i = TrafficSplitInputs.parse(rest);
  const spec = specFor(i);
  const refusal = forecastRefusal(i, spec);
  if (refusal) throw new Error(refusal);
  const log = progressLogger();
  if (i.release.strategy !== "direct" && !i.immediate) log({ kind: "info", message: describeForecast(forecast(spec, i.release.analysis.expectedRps)) });
  const router = await routerFor(i);
  const result = await runRollout(optionsFor(i), await depsFor(i, router, log)).finally(() => log.flushed());
  const outs = outputs(i, result, __provider);
  const id = idOf(router);
  if (result.alreadyDecided && result.phase !== "interrupted") {
    // Not retried: the outputs keep saying what was decided, and the update goes through.
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

/** Refresh: the router's live split and the checkpoint are the truth. */
export async function read(id: string, props: Props) {
  const { __provider, ...rest } = props;
  const parsed = TrafficSplitInputs.safeParse(inputsOnly(rest));
  if (!parsed.success) return { id, props };
  const i = parsed.data;
  const router = await routerFor(i);
  const live = await router.readSplit();
  const decoded = decodeCheckpoint(await router.readCheckpoint(), { target: router.target, steps: specFor(i).steps });
  const mine = decoded.kind === "ok" && decoded.checkpoint.releaseKey === releaseKeyOf(i.stable, i.candidate, i.retryToken) ? decoded.checkpoint.state : null;
  return { id, props: { ...props, __provider, liveCandidateWeight: Math.round(shareOf(live, i.candidate)), ...(mine ? { phase: mine.phase } : {}) } };
}

/** Deleting the resource never moves traffic, except that an unfinished rollout goes back to stable. */
export async function remove(_id: string, props: Props) {
  const { __provider, ...rest } = props;
  void __provider;
  const parsed = TrafficSplitInputs.safeParse(inputsOnly(rest));
  if (!parsed.success) return;
  const i = parsed.data;
  const router = await routerFor(i);
  const decoded = decodeCheckpoint(await router.readCheckpoint(), { target: router.target, steps: specFor(i).steps });
  if (decoded.kind === "ok" && !TERMINAL.includes(decoded.checkpoint.state.phase)) {
    await restoreStable(i, { reason: "the traffic split resource was deleted during a rollout", force: false, log: () => undefined });
  }
}

export interface RestoreOutcome {
  /** What was done, in words. */
  message: string;
  /** True when traffic was moved back to stable. */
  moved: boolean;
}

/**
 * The operator's way out after a killed update (`npm run rollout --
 * --restore-stable`): puts 100% on the checkpoint's stable whatever the
 * split, and records that release as interrupted, so the next `pulumi up`
 * starts it afresh from a verified 100% on stable. The revisions come from
 * the checkpoint on the target, not from the inputs given: after a killed
 * update the stack's state still holds the previous update's inputs, whose
 * "stable" may be the very candidate in flight. It refuses while a live
 * engine holds the release (on this host: its process exists), unless
 * forced, and when there is no readable checkpoint to name stable. A
 * release that is not in flight (decided or interrupted) is left alone
 * unless forced: its split is someone's decision.
 */
export async function restoreStable(
  i: TrafficSplitInputs,
  o: { reason: string; force: boolean; log: (line: string) => void; routerOf?: (i: TrafficSplitInputs) => Promise<Router> },
): Promise<RestoreOutcome> {
  const routerOf = o.routerOf ?? routerFor;
  const probe = await routerOf(i);
  const text = await probe.readCheckpoint();
  const decoded = decodeCheckpoint(text, { target: probe.target, steps: specFor(i).steps });
  if (decoded.kind !== "ok") {
    const why = decoded.kind === "none" ? "there is no checkpoint on it (no release ever started there)" : `its checkpoint cannot be read (${decoded.problem})`;
    if (!o.force)
      throw new Error(
        `${probe.target}: ${why}, so it does not say which revision is stable; check the split by hand, or pass --force to put 100% on ${i.stable} (the stable of the inputs given)`,
      );
  }
  const c = decoded.kind === "ok" ? decoded.checkpoint : null;
  // A checkpoint copied or shared from another target (two backends on one state file) names another target's revisions.
  if (c && c.target !== probe.target && !o.force)
    throw new Error(
      `the checkpoint on ${probe.target} belongs to another target (${c.target}): it does not say which revision is stable here; check the split by hand, or pass --force`,
    );
  const stable = c?.state.stable ?? i.stable;
  const candidate = c?.state.candidate ?? i.candidate;
  const releaseKey = c?.releaseKey ?? releaseKeyOf(i.stable, i.candidate, i.retryToken);
  const router = stable === i.stable && candidate === i.candidate ? probe : await routerOf({ ...i, stable, candidate });
  const live = await router.readSplit();
  const liveText = describeSplit(live, [stable, candidate]);
  if (c && !TERMINAL.includes(c.state.phase) && c.leaseUntil > Date.now() && !o.force && !processGone(c.owner.host, c.owner.pid)) {
    throw new Error(
      `engine ${c.owner.id} (pid ${c.owner.pid}${c.owner.host ? ` on ${c.owner.host}` : ""}) still holds release ${c.releaseKey} on ${router.target} until ${new Date(c.leaseUntil).toISOString()}; stop it first, or pass --force`,
    );
  }
  if (c && TERMINAL.includes(c.state.phase) && (!o.force || Math.round(shareOf(live, stable)) === 100)) {
    // No engine is running this release: whatever the split is now, someone decided it (the engine or a person).
    return {
      message: `${router.target}: nothing to restore; release ${c.releaseKey} is ${c.state.phase} and the split is ${liveText}${Math.round(shareOf(live, stable)) === 100 ? "" : ` (left as it is; --force puts 100% on ${stable})`}`,
      moved: false,
    };
  }
  const now = Date.now();
  const spec = c ? { ...specFor(i), steps: c.steps } : specFor(i);
  const base = c?.state ?? start(spec, stable, candidate, now).state;
  const high = Math.round(Math.max(0, ...live.arms.filter((a) => a.name !== stable).map((a) => a.percent)));
  const state = {
    ...base,
    phase: "interrupted" as const,
    weight: 0,
    moving: { from: high, to: 0 },
    updatedAt: now,
    heldFrom: null,
    failure: failureAt(base, {
      gate: "restore-stable",
      value: liveText,
      threshold: `${stable} 100%`,
      message: `restored to stable by an operator (${o.reason}); the split was ${liveText}`,
    }),
  };
  const written = encodeCheckpoint({
    format: "progressive-delivery/checkpoint@2",
    releaseKey,
    target: router.target,
    steps: spec.steps,
    owner: { id: `restore-${randomUUID()}`, host: hostname(), pid: process.pid },
    leaseUntil: now,
    lastPromoted: c?.lastPromoted ?? null,
    state,
  });
  const t0 = Date.now();
  const r = await router.rollback(
    {
      text: written,
      guard: (current) => {
        // The text read before, or this very write's (an attempt that landed and is tried again): anything else is another engine.
        if (current !== text && current !== written)
          throw new LeaseLost(`the checkpoint on ${router.target} changed while restoring stable (another engine is active); nothing was moved`);
      },
    },
    { mode: "immediate" },
  );
  o.log(`${router.target}: 100% of the release's two arms on ${stable} in ${Date.now() - t0} ms (was ${liveText}); ${r.note}`);
  // Said as it is: another arm's traffic (someone else's) is not this command's to move.
  const after = await router.readSplit();
  const share = Math.round(shareOf(after, stable) * 10) / 10;
  const others = after.arms.filter((a) => a.name !== stable && a.name !== candidate && a.percent > 0);
  const rest = others.length > 0 ? `; other arms still carry traffic (${describeSplit({ arms: others })}), left as they are` : "";
  return {
    message: `${router.target}: restored ${stable} to ${share === 100 ? "100%" : `${share}% (all of the release's share)`} (was ${liveText})${rest}; the next update starts ${releaseKey} afresh`,
    moved: true,
  };
}
