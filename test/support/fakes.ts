import type { Clock } from "../../src/release/driver";
import type { MetricsReading, MetricsSource } from "../../src/release/metrics/source";
import { addArms, emptyArm } from "../../src/release/analysis/window";
import { RouterError, type Router } from "../../src/release/routers/router";
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

/** A router that keeps weights and the checkpoint in memory and records every call. */
export class MemoryRouter implements Router {
  readonly description = "memory router";
  weight = 0;
  checkpoint: string | null = null;
  calls: string[] = [];
  failNext = 0;
  /** A router that has gone away: every call throws RouterError while this says so. */
  down: (call: string, weight?: number) => boolean = () => false;

  private maybeFail(what: string, weight?: number) {
    if (this.down(what, weight)) throw new RouterError(`${what}: router unreachable (injected)`, false);
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error(`${what}: injected failure`);
    }
  }
  async prepare() {
    this.calls.push("prepare");
  }
  async currentWeight() {
    return this.weight;
  }
  async setWeight(weight: number, checkpoint: string) {
    this.maybeFail("setWeight", weight);
    this.calls.push(`set ${weight}`);
    this.checkpoint = checkpoint;
    this.weight = weight;
  }
  async rollback(checkpoint: string) {
    if (this.down("rollback")) {
      this.calls.push("rollback failed");
      throw new RouterError("rollback: router unreachable (injected)", false);
    }
    this.calls.push("rollback");
    this.checkpoint = checkpoint;
    this.weight = 0;
    return { drained: false, note: "memory router has no connections" };
  }
  async readCheckpoint() {
    return this.checkpoint;
  }
  async saveCheckpoint(c: string) {
    this.checkpoint = c;
  }
  async candidateUrl() {
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
