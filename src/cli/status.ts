/**
 * The latest release of each traffic split of a stack, from the stack's state:
 *
 *   npm run -s status -- --stack NAME [--json] [--project-dir DIR]
 *
 * Prints each TrafficSplit's own release record (phase, candidate and
 * stable revisions, the candidate's live share, the failed gate with its
 * value and threshold, the restore time, the last steps), whatever the
 * update's outcome: a failed update does not change the stack's outputs,
 * but the resource's state records the failed release. Secrets are not
 * decrypted. Exit codes: 0 printed, 1 error (no such stack, no record).
 */
import { spawnSync } from "node:child_process";
import type { ReleaseRecord } from "../release/record";
import { formatStatus } from "../release/record";
import { TRAFFIC_SPLIT_TOKEN } from "../release/provider/trafficSplit";
import { parseCommand, runMain, usageError } from "./common";
import { selectStack } from "./stackSelection";

export const USAGE = `usage: npm run -s status -- --stack NAME [--json] [--project-dir DIR]

  --stack NAME        the stack (as \`pulumi stack ls\` names it)
  --project-dir DIR   the Pulumi project (default: this repository)
  --json              the release records as JSON on stdout
  -h, --help          this text
  --version           the tool's version

exit codes: 0 printed, 1 error (no such stack, no release recorded)
`;

const RECORD_KEYS = [
  "phase",
  "stableRevision",
  "candidateRevision",
  "liveCandidateWeight",
  "message",
  "failure",
  "restoreMs",
  "startedAt",
  "finishedAt",
  "steps",
] as const;

/** The release records of a stack's state (pure): each TrafficSplit's outputs, named after what it releases. */
export function releasesOf(deployment: {
  deployment?: { resources?: { urn: string; type: string; delete?: boolean; outputs?: Record<string, unknown> }[] };
}): Record<string, ReleaseRecord> {
  const out: Record<string, ReleaseRecord> = {};
  for (const r of deployment.deployment?.resources ?? []) {
    // A resource marked `delete` is the one a replacement superseded (kept until its delete runs): not the latest release.
    if (r.type !== TRAFFIC_SPLIT_TOKEN || r.delete === true || !r.outputs || r.outputs["phase"] === undefined) continue;
    const name = (r.urn.split("::").at(-1) ?? r.urn).replace(/^release-/, "");
    const o = r.outputs;
    const record = Object.fromEntries(RECORD_KEYS.map((k) => [k, o[k] ?? null])) as unknown as ReleaseRecord;
    out[name] = {
      ...record,
      steps: (record.steps ?? []).map((st) => ({
        ...st,
        measurements: st.measurements.map((m) => ({ gate: m.gate, value: m.value, threshold: m.threshold })),
      })),
    };
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommand(
    "status",
    argv,
    { stack: { type: "string" }, json: { type: "boolean", default: false }, "project-dir": { type: "string" } },
    USAGE,
  );
  if ("exit" in parsed) return parsed.exit;
  const values = parsed.values;
  if (!values.stack) return usageError("status", "--stack is required", USAGE);
  const selected = await selectStack(values.stack, values["project-dir"]);
  if ("problem" in selected) return usageError("status", selected.problem, "");
  // `pulumi stack export` without --show-secrets: the record holds nothing secret, so nothing is decrypted.
  const r = spawnSync("pulumi", ["stack", "export", "--stack", values.stack, "--non-interactive"], {
    cwd: selected.projectDir,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, ...selected.stack.workspace.envVars },
  });
  if (r.status !== 0)
    return usageError(
      "status",
      `cannot read the state of stack ${values.stack}: ${
        (r.stderr || r.stdout)
          .trim()
          .split("\n")
          .find((l) => /error/i.test(l)) ?? r.stderr.trim()
      }`,
      "",
    );
  const releases = releasesOf(JSON.parse(r.stdout) as Parameters<typeof releasesOf>[0]);
  process.stdout.write(values.json ? `${JSON.stringify(releases, null, 2)}\n` : formatStatus(values.stack, releases));
  return 0;
}

runMain("status", main);
