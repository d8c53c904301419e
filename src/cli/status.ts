/**
 * The current release of a stack, from its outputs:
 *
 *   npm run status -- --stack NAME [--json] [--project-dir DIR]
 *
 * Prints each traffic split's release record (the stack's `releases`
 * output): phase, candidate and stable revisions, the candidate's live
 * share, the failed gate if any, and the last steps with their
 * measurements. Exit codes: 0 printed, 1 error (no such stack, no record).
 */
import { parseArgs } from "node:util";
import type { ReleaseRecord } from "../release/record";
import { formatStatus } from "../release/record";
import { firstErrorLine, selectStack } from "./stackSelection";

const USAGE = `usage: npm run status -- --stack NAME [--json] [--project-dir DIR]
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { stack: { type: "string" }, json: { type: "boolean", default: false }, "project-dir": { type: "string" }, help: { type: "boolean", default: false } } }));
  } catch (e) {
    process.stderr.write(`status: ${(e as Error).message}\n${USAGE}`);
    return 1;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.stack) {
    process.stderr.write(`status: --stack is required\n${USAGE}`);
    return 1;
  }
  const selected = await selectStack(values.stack, values["project-dir"]);
  if ("problem" in selected) {
    process.stderr.write(`status: ${selected.problem}\n`);
    return 1;
  }
  let outputs;
  try {
    outputs = await selected.stack.outputs();
  } catch (e) {
    process.stderr.write(`status: cannot read the outputs of stack ${values.stack}: ${firstErrorLine(e)}\n`);
    return 1;
  }
  const releases = outputs["releases"]?.value as Record<string, ReleaseRecord> | undefined;
  if (releases === undefined) {
    process.stderr.write(`status: stack ${values.stack} has no \`releases\` output yet (run \`pulumi up\` once with this version of the program)\n`);
    return 1;
  }
  process.stdout.write(values.json ? `${JSON.stringify(releases, null, 2)}\n` : formatStatus(values.stack, releases));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`status: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
