import { describe, expect, it } from "vitest";
import { deliveryReport, renderMarkdown, renderSvg } from "../../src/report/delivery";
import type { HistoryEntry } from "../../src/rollback/plan";

const at = (day: number, hour: number) => new Date(Date.UTC(2026, 10, day, hour));
const update = (result: string, start: Date, minutes: number, head = "c1"): HistoryEntry => ({
  kind: "update",
  result,
  startTime: start,
  endTime: new Date(start.getTime() + minutes * 60_000),
  environment: { "git.head": head },
});

// Newest first, as Pulumi returns it.
const history = [
  update("succeeded", at(20, 12), 10, "c3"),
  update("failed", at(20, 10), 5, "c2"),
  update("failed", at(19, 10), 5, "c2"),
  { kind: "refresh", result: "succeeded", startTime: at(18, 9) },
  update("succeeded", at(18, 10), 20, "c1"),
];

describe("delivery report from a stack's history", () => {
  const r = deliveryReport("prod", history, {
    now: at(21, 0),
    commitTimes: new Map([
      ["c1", at(18, 8)],
      ["c3", at(20, 11)],
    ]),
  });

  it("counts updates by outcome (refreshes are not releases) and the change failure rate", () => {
    expect(r.updates).toBe(4);
    expect(r.byOutcome).toEqual({ succeeded: 2, failed: 2 });
    expect(r.changeFailureRate).toBe(0.5);
    // 2 successful updates in 2.58 days (from the first update on the 18th, 09:00) → per week.
    expect(r.deploymentsPerWeek).toBeCloseTo((2 / ((at(21, 0).getTime() - at(18, 9).getTime()) / 86_400_000)) * 7, 2);
  });

  it("times a restore from the first failure of a run to the next success, and lead time from the commit", () => {
    // Failed on the 19th at 10:05; restored on the 20th at 12:10.
    expect(r.timeToRestoreMinutes).toEqual({ count: 1, median: 26 * 60 + 5, max: 26 * 60 + 5 });
    // c1: 08:00 → 10:20 (2.33 h); c3: 11:00 → 12:10 (1.17 h). c2 never succeeded.
    expect(r.leadTimeHours).toEqual({ count: 2, median: 1.75, max: 2.33 });
  });

  it("buckets updates per day, renders a table and a chart", () => {
    expect(r.perDay).toEqual([
      { date: "2026-11-18", succeeded: 1, failed: 0 },
      { date: "2026-11-19", succeeded: 0, failed: 1 },
      { date: "2026-11-20", succeeded: 1, failed: 1 },
      { date: "2026-11-21", succeeded: 0, failed: 0 },
    ]);
    expect(renderMarkdown(r, "reports/x.svg")).toContain("| Change failure rate | 50% |");
    const svg = renderSvg(r);
    expect(svg.match(/<rect /g)).toHaveLength(4);
    expect(svg).toContain("<title>2026-11-20: 1 failed</title>");
  });

  it("--since leaves older updates out", () => {
    const recent = deliveryReport("prod", history, { since: at(20, 0), now: at(21, 0) });
    expect(recent.byOutcome).toEqual({ succeeded: 1, failed: 1 });
    expect(recent.timeToRestoreMinutes?.count).toBe(1);
    expect(recent.leadTimeHours).toBeNull();
  });
});
