import type { ArmWindow, MetricsWindow } from "../../src/release/analysis/window";

/**
 * Seeded synthetic traffic, shared by the tests and the detection benchmark
 * (bench/detection/streams.ts samples per window on top of it).
 */

/** mulberry32: a small seeded PRNG so every statistical test is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function poisson(rand: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 50) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(rand)));
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rand();
  } while (p > l);
  return k - 1;
}

export function normal(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Histogram boundaries (ms), as a typical latency histogram exports them; the tests and the detection benchmark share them. */
export const BUCKETS_MS = [25, 50, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, Infinity];

export interface ArmModel {
  errorRate: number;
  /** Median latency (ms) and lognormal shape. */
  medianMs: number;
  sigma: number;
}

export function armWindow(rand: () => number, requests: number, model: ArmModel): ArmWindow {
  let errors = 0;
  const counts = new Array<number>(BUCKETS_MS.length).fill(0);
  for (let i = 0; i < requests; i++) {
    if (rand() < model.errorRate) errors++;
    const latency = model.medianMs * Math.exp(model.sigma * normal(rand));
    const b = BUCKETS_MS.findIndex((le) => latency <= le);
    counts[b]! += 1;
  }
  let cum = 0;
  return { requests, errors, latency: BUCKETS_MS.map((le, i) => ({ le, count: (cum += counts[i]!) })) };
}

/** One window of traffic split between the arms at `weight` percent to the candidate. */
export function trafficWindow(rand: () => number, rps: number, seconds: number, weight: number, candidate: ArmModel, stable: ArmModel): MetricsWindow {
  const total = poisson(rand, rps * seconds);
  let nc = 0;
  for (let i = 0; i < total; i++) if (rand() * 100 < weight) nc++;
  return { candidate: armWindow(rand, nc, candidate), stable: armWindow(rand, total - nc, stable) };
}

/** A healthy arm (the benchmark's baseline): 0.1% errors, median 120 ms. */
export const HEALTHY: ArmModel = { errorRate: 0.001, medianMs: 120, sigma: 0.5 };
