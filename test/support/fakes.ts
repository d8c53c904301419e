import type { Clock } from "../../src/release/driver";
import type { MetricsReading, MetricsSource } from "../../src/release/metrics/source";
import { addArms, emptyArm } from "../../src/release/analysis/window";
import { RouterError, type CheckpointWrite, type DrainPlan, type Router } from "../../src/release/routers/router";
import { fromWeights, type LiveSplit } from "../../src/release/split";
import { HEALTHY, rng, trafficWindow, type ArmModel } from "./synthetic";

/** A clock whose sleep returns at once and moves time forward. */
export class FakeClock implements Clock {
  constructor(public t = 1_700_000_000_000) {}
  now() {
    return this.t;
  }
  async sleep(ms: number) {
    this.t += ms;
  }
}

/** What a target holds, shared by every router (engine) that acts on it: arms with weights, a checkpoint, a call log. */
export class MemoryTarget {
  weights: Record<string, number> = {};
  checkpoint: string | null = null;
  calls: string[] = [];
}

/**
 * A router over a MemoryTarget for one stable/candidate pair. Its writes
 * run the engine's guard like a real adapter's compare-and-swap: a guard
 * that throws leaves split and checkpoint as they were.
 */
export class MemoryRouter implements Router {
  readonly description = "memory router";
  readonly target = "memory:router";
  failNext = 0;
  /** A router that has gone away: every call throws RouterError while this says so. */
  down: (call: string, weight?: number) => boolean = () => false;

  constructor(
    readonly stable = "v1",
    readonly candidate = "v2",
    readonly t = new MemoryTarget(),
  ) {
    if (Object.keys(t.weights).length === 0) t.weights = { [stable]: 100, [candidate]: 0 };
  }

  /** The candidate's weight (stable has the rest). */
  get weight() {
    return this.t.weights[this.candidate] ?? 0;
  }
  set weight(w: number) {
    this.t.weights[this.candidate] = w;
    this.t.weights[this.stable] = 100 - w;
  }
  get checkpoint() {
    return this.t.checkpoint;
  }
  set checkpoint(c: string | null) {
    this.t.checkpoint = c;
  }
  get calls() {
    return this.t.calls;
  }

  private maybeFail(what: string, weight?: number) {
    if (this.down(what, weight)) throw new RouterError(`${what}: router unreachable (injected)`, false);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error(`${what}: injected failure`);
    }
  }
  split(): LiveSplit {
    return fromWeights(Object.entries(this.t.weights).map(([name, weight]) => ({ name, weight })));
  }
  /**
   * Writes whose request fails after the guard passed, and which the adapter tries again (as the real ones do with a
   * 409, a dropped connection or a 5xx): "lost" never reached the target, "landed" did and only its answer was lost.
   */
  failedWrites: ("lost" | "landed")[] = [];
  private write(w: CheckpointWrite) {
    for (;;) {
      w.guard(this.t.checkpoint, this.split());
      const failure = this.failedWrites.shift();
      if (failure === "landed") this.t.checkpoint = w.text;
      if (failure) {
        this.calls.push(`write ${failure}, retried`);
        continue;
      }
      this.t.checkpoint = w.text;
      return;
    }
  }
  async prepare(w: CheckpointWrite) {
    this.write(w);
    this.calls.push("prepare");
  }
  async readSplit() {
    if (this.down("readSplit")) throw new RouterError("readSplit: router unreachable (injected)", false);
    return this.split();
  }
  async setWeight(weight: number, w: CheckpointWrite) {
    this.maybeFail("setWeight", weight);
    this.write(w);
    this.calls.push(`set ${weight}`);
    this.weight = weight;
  }
  async rollback(w: CheckpointWrite, plan: DrainPlan) {
    if (this.down("rollback")) {
      this.calls.push("rollback failed");
      throw new RouterError("rollback: router unreachable (injected)", false);
    }
    this.write(w);
    this.calls.push(plan.mode === "drain" ? "rollback (drain)" : "rollback");
    this.weight = 0;
    return { drained: false, note: "memory router has no connections" };
  }
  async readCheckpoint() {
    return this.t.checkpoint;
  }
  async saveCheckpoint(w: CheckpointWrite) {
    this.write(w);
  }
  async candidateUrl() {
    return undefined;
  }
  async stableUrl() {
    return undefined;
  }
}

/** Cumulative counters driven by the router's live weight and a clock, like Prometheus would see them. */
export class SyntheticMetrics implements MetricsSource {
  readonly description = "synthetic metrics";
  private totals = { candidate: emptyArm(), stable: emptyArm() };
  private last: number | null = null;
  private rand: () => number;
  down = false;

  constructor(
    private readonly router: MemoryRouter,
    private readonly candidate: ArmModel,
    private readonly rps: number,
    seed = 1,
  ) {
    this.rand = rng(seed);
  }

  async readArm(revision: string, at: number) {
    const r = await this.read(this.router.candidate, this.router.stable, at);
    return revision === this.router.candidate ? r.candidate : r.stable;
  }

  async read(_c: string, _s: string, at: number): Promise<MetricsReading> {
    if (this.down) throw new (await import("../../src/release/metrics/source")).MetricsUnavailable("synthetic outage");
    if (this.last !== null && at > this.last) {
      const w = trafficWindow(this.rand, this.rps, (at - this.last) / 1000, this.router.weight, this.candidate, HEALTHY);
      this.totals = { candidate: addArms(this.totals.candidate, w.candidate), stable: addArms(this.totals.stable, w.stable) };
    }
    this.last = at;
    return { at, candidate: this.totals.candidate, stable: this.totals.stable };
  }
}
