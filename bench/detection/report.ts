import type { BenchResult, ScenarioResult } from "./grid";
import { REGRESSIONS, STEP_SECONDS, WINDOW_SECONDS } from "./grid";

export interface GoalCheck {
  scenario: string;
  weight: number;
  rps: number;
  missOk: boolean;
  /** Best eligible rival's median requests / ours (eligible: false rollback rate not above ours). */
  speedup: number | null;
  bestRival: string | null;
  /** Ours median requests / floor. */
  floorRatio: number | null;
  /** Ours median requests / the floor rounded up to whole windows (no windowed method can decide sooner). */
  windowFloorRatio: number | null;
  /** The floor needs more time than the step has: no method can be expected to detect it. */
  beyondStep: boolean;
}

const pct = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`;
const num = (x: number | null) => (x === null ? "—" : x >= 10_000 ? `${(x / 1000).toFixed(0)}k` : String(Math.round(x)));

/** The product's goals, checked scenario by scenario. */
export function checkGoals(r: BenchResult): { checks: GoalCheck[]; ourFalseRollback: number; alphaOk: boolean } {
  const frr = (method: string, weight: number, rps: number) =>
    r.healthy.find((h) => h.method === method && h.weight === weight && h.rps === rps)!.falseRollbackRate;
  const ourRuns = r.healthy.filter((h) => h.method === "ours");
  const ourFalseRollback = ourRuns.reduce((n, h) => n + h.falseRollbackRate * h.runs, 0) / ourRuns.reduce((n, h) => n + h.runs, 0);
  const checks: GoalCheck[] = [];
  for (const s of r.scenarios.filter((x) => x.method === "ours")) {
    const rivals = r.scenarios.filter((x) => x.method !== "ours" && x.regression === s.regression && x.weight === s.weight && x.rps === s.rps);
    const eligible = rivals.filter((x) => frr(x.method, x.weight, x.rps) <= frr("ours", s.weight, s.rps));
    const missOk = eligible.every((x) => s.missRate <= x.missRate);
    const best = eligible.filter((x) => x.requests.median !== null).sort((a, b) => a.requests.median! - b.requests.median!)[0];
    const f = r.floor.find((x) => x.regression === s.regression && x.weight === s.weight && x.rps === s.rps)!;
    const perWindow = (s.rps * s.weight * WINDOW_SECONDS) / 100;
    const windowFloor = Math.ceil(f.requests / perWindow) * perWindow;
    checks.push({
      scenario: s.regression,
      weight: s.weight,
      rps: s.rps,
      missOk,
      speedup: best && s.requests.median !== null ? best.requests.median! / s.requests.median : null,
      bestRival: best?.method ?? null,
      floorRatio: s.requests.median !== null ? s.requests.median / f.requests : null,
      windowFloorRatio: s.requests.median !== null ? s.requests.median / windowFloor : null,
      beyondStep: f.seconds > STEP_SECONDS,
    });
  }
  return { checks, ourFalseRollback, alphaOk: ourFalseRollback <= r.alpha };
}

const cell = (s: ScenarioResult) =>
  `${num(s.requests.median)} / ${num(s.seconds.median)} s (p95 ${num(s.requests.p95)}); miss ${pct(s.missRate)}${s.pausedRate > 0 ? `, paused ${pct(s.pausedRate)}` : ""}`;

export function renderMarkdown(r: BenchResult, meta: { date: string; machine: string; command: string; seconds: number }): string {
  const ids = r.methods.map((m) => m.id);
  const goals = checkGoals(r);
  const lines: string[] = [
    "## Detection benchmark",
    "",
    `Run on ${meta.date} (${meta.machine}) with \`${meta.command}\` in ${meta.seconds.toFixed(0)} s: ${r.grid.badRuns} runs per bad scenario, ${r.grid.healthyRuns} healthy runs per weight and rate per method. Seeded, so the numbers reproduce exactly.`,
    "",
    `Step plan, the same for every method: the candidate serves the canary weight for ${STEP_SECONDS / 60} minutes and is promoted unless the method rolls it back; traffic arrives as Poisson requests at the given rate, baseline 0.1% errors and lognormal latency (median 120 ms, σ 0.5: p95 ≈ 273 ms, p99 ≈ 384 ms), sampled in ${WINDOW_SECONDS} s windows that every method sees identically. Only detection is compared (no method's own "pass" logic).`,
    "",
    "Methods:",
    "",
    "| Method | Parameters | Source |",
    "| --- | --- | --- |",
    ...r.methods.map((m) => `| \`${m.id}\` | ${m.params} | ${m.source} |`),
    "| floor | optimal fixed-sample test, one-sided α = 0.05, power 80%, baseline known (closed form) | bench/detection/floor.ts |",
    "",
    "Cells: median candidate requests / seconds until rollback over **all** runs (a run that was never rolled back counts as never, so `—` means more than half were missed), p95 requests, and the share of bad candidates promoted anyway (`miss`); Argo pauses (inconclusive) are shown separately.",
    "",
  ];
  for (const reg of REGRESSIONS.filter((x) => r.grid.regressions.some((g) => g.id === x.id))) {
    lines.push(
      `### ${reg.label}`,
      "",
      `| weight, rate | floor | ${ids.map((i) => `\`${i}\``).join(" | ")} |`,
      `| --- | --- | ${ids.map(() => "---").join(" | ")} |`,
    );
    for (const w of r.grid.weights) {
      for (const rps of r.grid.rates) {
        const f = r.floor.find((x) => x.regression === reg.id && x.weight === w && x.rps === rps)!;
        const row = ids.map((id) => cell(r.scenarios.find((s) => s.method === id && s.regression === reg.id && s.weight === w && s.rps === rps)!));
        lines.push(`| ${w}%, ${rps} req/s | ${num(f.requests)} / ${num(f.seconds)} s | ${row.join(" | ")} |`);
      }
    }
    lines.push("");
  }
  lines.push(
    "### False rollbacks of a healthy candidate",
    "",
    `| weight, rate | ${ids.map((i) => `\`${i}\``).join(" | ")} |`,
    `| --- | ${ids.map(() => "---").join(" | ")} |`,
  );
  for (const w of r.grid.weights) {
    for (const rps of r.grid.rates) {
      const row = ids.map((id) => {
        const h = r.healthy.find((x) => x.method === id && x.weight === w && x.rps === rps)!;
        return `${pct(h.falseRollbackRate)}${h.pausedRate > 0 ? ` (paused ${pct(h.pausedRate)})` : ""}`;
      });
      lines.push(`| ${w}%, ${rps} req/s | ${row.join(" | ")} |`);
    }
  }
  const met = goals.checks.filter((c) => !c.beyondStep);
  const speedOk = met.filter((c) => c.speedup === null || c.speedup >= 2);
  const floorOk = met.filter((c) => c.floorRatio !== null && c.floorRatio <= 2);
  const windowFloorOk = met.filter((c) => c.windowFloorRatio !== null && c.windowFloorRatio <= 2);
  lines.push(
    "",
    "### Against the goals",
    "",
    `- False rollback rate ≤ α (${r.alpha}): **${goals.alphaOk ? "met" : "not met"}**, ${pct(goals.ourFalseRollback)} over ${r.healthy.filter((h) => h.method === "ours").reduce((n, h) => n + h.runs, 0)} healthy runs.`,
    `- Miss rate no higher than any rival whose false rollback rate is not above ours: met in ${goals.checks.filter((c) => c.missOk).length} of ${goals.checks.length} scenarios${
      goals.checks.some((c) => !c.missOk)
        ? ` (not in: ${goals.checks
            .filter((c) => !c.missOk)
            .map((c) => `${c.scenario} at ${c.weight}%/${c.rps}`)
            .join(", ")})`
        : ""
    }.`,
    `- Median detection with ≥ 2× fewer requests than the best such rival, where the floor fits in the step: met in ${speedOk.length} of ${met.length}${
      met.some((c) => c.speedup !== null && c.speedup < 2)
        ? ` (not in: ${met
            .filter((c) => c.speedup !== null && c.speedup < 2)
            .map((c) => `${c.scenario} at ${c.weight}%/${c.rps} (${c.speedup!.toFixed(2)}× vs ${c.bestRival})`)
            .join(", ")})`
        : ""
    }; "met" includes scenarios where no eligible rival has a median at all.`,
    `- Within 2× of the statistical floor, where the floor fits in the step: met in ${floorOk.length} of ${met.length}${
      met.some((c) => c.floorRatio === null || c.floorRatio > 2)
        ? ` (not in: ${met
            .filter((c) => c.floorRatio === null || c.floorRatio > 2)
            .map((c) => `${c.scenario} at ${c.weight}%/${c.rps} (${c.floorRatio === null ? "no median" : `${c.floorRatio.toFixed(2)}×`})`)
            .join(", ")})`
        : ""
    }.`,
    `- Within 2× of the floor rounded up to whole ${WINDOW_SECONDS} s windows (at high rates the floor is a fraction of one window, which no method that reads metrics per window can beat): met in ${windowFloorOk.length} of ${met.length}${
      met.some((c) => c.windowFloorRatio === null || c.windowFloorRatio > 2)
        ? ` (not in: ${met
            .filter((c) => c.windowFloorRatio === null || c.windowFloorRatio > 2)
            .map((c) => `${c.scenario} at ${c.weight}%/${c.rps} (${c.windowFloorRatio === null ? "no median" : `${c.windowFloorRatio.toFixed(2)}×`})`)
            .join(", ")})`
        : ""
    }.`,
    `- Scenarios whose floor needs more time than the ${STEP_SECONDS / 60}-minute step (no method can be expected to catch them reliably): ${
      goals.checks
        .filter((c) => c.beyondStep)
        .map((c) => `${c.scenario} at ${c.weight}%/${c.rps}`)
        .join(", ") || "none"
    }.`,
    "",
  );
  return lines.join("\n");
}
