import { TRAFFIC_SPLIT_TOKEN } from "../release/provider/trafficSplit";
import { TrafficSplitInputs } from "../release/provider/inputs";
import { firstErrorLine, selectStack } from "./stackSelection";

/** Pulumi's marker of a secret value in exported state; with --show-secrets its plaintext is JSON text. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

function unwrap(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrap);
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    if (SECRET_SIG in o && typeof o["plaintext"] === "string") return unwrap(JSON.parse(o["plaintext"]));
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrap(x)]));
  }
  return v;
}

/**
 * Every TrafficSplit of a stack with its inputs, read from the stack's
 * state (`pulumi stack export --show-secrets` through the Automation API,
 * in memory only: the kubeconfig or tokens they carry never reach a file or
 * a command line).
 */
export async function trafficSplitsOf(
  stackName: string,
  projectDir?: string,
): Promise<{ splits: { name: string; inputs: TrafficSplitInputs }[] } | { problem: string }> {
  const selected = await selectStack(stackName, projectDir);
  if ("problem" in selected) return selected;
  let deployment: { deployment?: { resources?: { urn: string; type: string; inputs?: Record<string, unknown> }[] } };
  try {
    deployment = await selected.stack.exportStack();
  } catch (e) {
    return { problem: `cannot read the state of stack ${stackName}: ${firstErrorLine(e)}` };
  }
  const splits: { name: string; inputs: TrafficSplitInputs }[] = [];
  for (const r of deployment.deployment?.resources ?? []) {
    if (r.type !== TRAFFIC_SPLIT_TOKEN) continue;
    const { __provider: _p, ...inputs } = (unwrap(r.inputs ?? {}) as Record<string, unknown>) ?? {};
    const parsed = TrafficSplitInputs.safeParse(Object.fromEntries(Object.entries(inputs).filter(([k]) => k in TrafficSplitInputs.shape)));
    if (!parsed.success)
      return { problem: `${r.urn}: its inputs in the state do not parse: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}` };
    splits.push({ name: r.urn.split("::").at(-1) ?? r.urn, inputs: parsed.data });
  }
  return { splits };
}
