import type { ReleaseConfig } from "../../config/schema";

export type WebhookConfig = ReleaseConfig["webhooks"][number];
export type WebhookType = WebhookConfig["type"];

export interface WebhookPayload {
  name: string;
  phase: WebhookType;
  stable: string;
  candidate: string;
  weight: number;
  metadata: Record<string, string>;
}

/**
 * Calls every webhook of one type, Flagger-style: POST JSON, 2xx means go.
 * For gates (pre-rollout, confirm-*) any non-2xx, timeout or network error
 * is a "no"; notifications (post-rollout, rollback) never block.
 */
export async function callWebhooks(hooks: WebhookConfig[], type: WebhookType, payload: Omit<WebhookPayload, "phase" | "name">): Promise<{ passed: boolean; detail: string }> {
  const selected = hooks.filter((h) => h.type === type);
  if (selected.length === 0) return { passed: true, detail: `no ${type} webhooks` };
  const results = await Promise.all(
    selected.map(async (h) => {
      try {
        const res = await fetch(h.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...payload, phase: type, name: h.name }),
          signal: AbortSignal.timeout(h.timeoutSeconds * 1000),
        });
        await res.arrayBuffer();
        return { name: h.name, ok: res.ok, detail: `${h.name}: HTTP ${res.status}` };
      } catch (e) {
        return { name: h.name, ok: false, detail: `${h.name}: ${(e as Error).name === "TimeoutError" ? `no answer within ${h.timeoutSeconds} s` : (e as Error).message}` };
      }
    }),
  );
  const failed = results.filter((r) => !r.ok);
  return { passed: failed.length === 0, detail: failed.length ? failed.map((r) => r.detail).join("; ") : results.map((r) => r.detail).join("; ") };
}
