import type { HistoryEntry } from "../rollback/plan";

/**
 * Delivery metrics from a stack's history (pure): Pulumi's history is the
 * deployment registry. An update is a release attempt; it fails when a
 * gate rolls the candidate back (the TrafficSplit fails the update) or
 * anything else fails it.
 */
export interface DeliveryReport {
  stack: string;
  from: string;
  to: string;
  updates: number;
  byOutcome: Record<string, number>;
  /** Successful updates per 7 days over the period. */
  deploymentsPerWeek: number;
  /** Failed updates over finished updates (0..1), null without any. */
  changeFailureRate: number | null;
  /** From a failed update's end to the end of the next successful one, minutes. */
  timeToRestoreMinutes: Summary | null;
  /** From the commit an update ran from to its successful end, hours (commits whose time is known). */
  leadTimeHours: Summary | null;
  perDay: { date: string; succeeded: number; failed: number }[];
}

export interface Summary {
  count: number;
  median: number;
  max: number;
}

const DAY_MS = 86_400_000;

function summary(values: number[]): Summary | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { count: values.length, median: round(median), max: round(sorted.at(-1)!) };
}

const round = (x: number) => Math.round(x * 100) / 100;
const time = (t: Date | string | undefined) => (t === undefined ? NaN : new Date(t).getTime());

/**
 * `history` newest first, as Pulumi returns it; `commitTimes` maps a
 * commit (git.head) to when it was made, where the caller could find out.
 */
export function deliveryReport(
  stack: string,
  history: readonly HistoryEntry[],
  opts: { since?: Date; now: Date; commitTimes?: ReadonlyMap<string, Date> },
): DeliveryReport {
  const from = opts.since ?? new Date(Math.min(opts.now.getTime(), ...history.map((e) => time(e.startTime)).filter(Number.isFinite)));
  const inPeriod = history.filter((e) => e.kind === "update" && time(e.startTime) >= from.getTime()).sort((a, b) => time(a.startTime) - time(b.startTime));
  const byOutcome: Record<string, number> = {};
  for (const e of inPeriod) byOutcome[e.result] = (byOutcome[e.result] ?? 0) + 1;
  const succeeded = byOutcome["succeeded"] ?? 0;
  const failed = byOutcome["failed"] ?? 0;
  const days = Math.max(1, (opts.now.getTime() - from.getTime()) / DAY_MS);

  const restores: number[] = [];
  for (const [i, e] of inPeriod.entries()) {
    if (e.result !== "failed") continue;
    // Only the first failure of a run of failures starts an outage.
    if (i > 0 && inPeriod[i - 1]!.result === "failed") continue;
    const fixed = inPeriod.slice(i + 1).find((n) => n.result === "succeeded");
    const start = time(e.endTime ?? e.startTime);
    const end = time(fixed?.endTime ?? fixed?.startTime);
    if (Number.isFinite(start) && Number.isFinite(end)) restores.push((end - start) / 60_000);
  }

  const leads: number[] = [];
  for (const e of inPeriod) {
    const head = e.environment?.["git.head"];
    const committed = head ? opts.commitTimes?.get(head) : undefined;
    const end = time(e.endTime ?? e.startTime);
    if (e.result === "succeeded" && committed && Number.isFinite(end)) leads.push((end - committed.getTime()) / 3_600_000);
  }

  const perDay = new Map<string, { succeeded: number; failed: number }>();
  for (let t = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()); t <= opts.now.getTime(); t += DAY_MS)
    perDay.set(new Date(t).toISOString().slice(0, 10), { succeeded: 0, failed: 0 });
  for (const e of inPeriod) {
    const day = perDay.get(new Date(e.startTime).toISOString().slice(0, 10));
    if (day && (e.result === "succeeded" || e.result === "failed")) day[e.result]++;
  }

  return {
    stack,
    from: from.toISOString(),
    to: opts.now.toISOString(),
    updates: inPeriod.length,
    byOutcome,
    deploymentsPerWeek: round((succeeded / days) * 7),
    changeFailureRate: succeeded + failed > 0 ? round(failed / (succeeded + failed)) : null,
    timeToRestoreMinutes: summary(restores),
    leadTimeHours: summary(leads),
    perDay: [...perDay.entries()].map(([date, c]) => ({ date, ...c })),
  };
}

const show = (s: Summary | null, unit: string) => (s ? `median ${s.median} ${unit}, max ${s.max} ${unit} (${s.count})` : "no data");

/** The report as Markdown; `chart` is the SVG file's path, linked when given. */
export function renderMarkdown(r: DeliveryReport, chart?: string): string {
  const outcomes =
    Object.entries(r.byOutcome)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  return [
    `# Delivery report: ${r.stack}`,
    "",
    `${r.from.slice(0, 10)} to ${r.to.slice(0, 10)}, from the stack's update history.`,
    "",
    "| Metric | Value |",
    "| --- | --- |",
    `| Updates | ${r.updates} (${outcomes}) |`,
    `| Deployment frequency | ${r.deploymentsPerWeek} successful updates per week |`,
    `| Change failure rate | ${r.changeFailureRate === null ? "no finished updates" : `${Math.round(r.changeFailureRate * 100)}%`} |`,
    `| Time to restore (failed update to the next successful one) | ${show(r.timeToRestoreMinutes, "min")} |`,
    `| Lead time (commit to successful update) | ${show(r.leadTimeHours, "h")} |`,
    ...(chart ? ["", `![Releases per day](${chart})`] : []),
    "",
  ].join("\n");
}

const escapeXml = (t: string) => t.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);

/** Releases per day as stacked bars (succeeded below, failed above), a self-contained SVG. */
export function renderSvg(r: DeliveryReport): string {
  const days = r.perDay.slice(-60);
  const [w, h, pad, bar] = [Math.max(200, days.length * 14 + 60), 160, 30, 10];
  const most = Math.max(1, ...days.map((d) => d.succeeded + d.failed));
  const y = (n: number) => ((h - 2 * pad) * n) / most;
  const bars = days.flatMap((d, i) => {
    const x = pad + i * 14;
    const ok = y(d.succeeded);
    const bad = y(d.failed);
    const base = h - pad;
    return [
      ...(d.succeeded > 0
        ? [`<rect x="${x}" y="${base - ok}" width="${bar}" height="${ok}" fill="#2e7d32"><title>${d.date}: ${d.succeeded} succeeded</title></rect>`]
        : []),
      ...(d.failed > 0
        ? [`<rect x="${x}" y="${base - ok - bad}" width="${bar}" height="${bad}" fill="#c62828"><title>${d.date}: ${d.failed} failed</title></rect>`]
        : []),
    ];
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="10">`,
    `<text x="${pad}" y="16">${escapeXml(r.stack)}: updates per day (green succeeded, red failed), at most ${most}</text>`,
    `<line x1="${pad}" y1="${h - pad}" x2="${w - 10}" y2="${h - pad}" stroke="#555"/>`,
    ...bars,
    `<text x="${pad}" y="${h - 10}">${days[0]?.date ?? ""}</text>`,
    `<text x="${w - 70}" y="${h - 10}">${days.at(-1)?.date ?? ""}</text>`,
    "</svg>",
    "",
  ].join("\n");
}
