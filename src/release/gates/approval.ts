import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { Approval } from "../../config/schema";
import { sendRequest } from "./http";

/**
 * Reads a person's answer to a held release from the configured approval
 * source: a JSON file, or an HTTP endpoint answering GET with the same JSON
 * (404 or 204 while nobody has answered). The answer names the release
 * attempt it is for ("<stable>-><candidate>@<start time>", printed when the
 * release is held), so an answer left from an earlier attempt (slot names
 * repeat every other release) never approves a later one.
 */
const Answer = z.strictObject({
  release: z.string().min(1),
  decision: z.enum(["approve", "reject"]),
  by: z.string().min(1).max(200),
});

export type ApprovalAnswer = { approved: boolean; by: string };

function parse(text: string, where: string, attempt: string): ApprovalAnswer | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // Not the parser's message: it quotes the text, which is not ours to print.
    throw new Error(`${where} is not JSON`, { cause: e });
  }
  const a = Answer.safeParse(raw);
  if (!a.success)
    throw new Error(
      `${where}: ${a.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")} (expected {"release", "decision": "approve"|"reject", "by"})`,
    );
  // An answer for another attempt is no answer for this one.
  if (a.data.release !== attempt) return undefined;
  return { approved: a.data.decision === "approve", by: a.data.by };
}

/** undefined: no answer (yet) for this release attempt. Throws on an unreadable answer. */
export async function readApproval(source: Approval, attempt: string): Promise<ApprovalAnswer | undefined> {
  if (source.source === "file") {
    let text: string;
    try {
      text = await readFile(source.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`approval file ${source.path}: ${(e as Error).message}`, { cause: e });
    }
    return parse(text, `approval file ${source.path}`, attempt);
  }
  const url = new URL(source.url);
  url.searchParams.set("release", attempt);
  const res = await sendRequest("GET", url.toString(), { timeoutMs: 10_000 });
  if (res.status === 404 || res.status === 204) return undefined;
  if (res.status < 200 || res.status >= 300)
    throw new Error(
      `approval endpoint ${url.origin}${url.pathname}: HTTP ${res.status}${res.status >= 300 && res.status < 400 ? " (redirects are not followed)" : ""}`,
    );
  return parse(res.body, `approval endpoint ${url.origin}${url.pathname}`, attempt);
}
