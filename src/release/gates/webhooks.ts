import { createHmac } from "node:crypto";
import type { ReleaseConfig } from "../../config/schema";
import { sendRequest } from "./http";

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

/** Header carrying `sha256=<hex HMAC of "<timestamp>.<body>">` with the release's webhook secret. */
export const SIGNATURE_HEADER = "x-delivery-signature";
/** Header carrying the Unix time the signature covers (receivers refuse old ones: no replays). */
export const TIMESTAMP_HEADER = "x-delivery-timestamp";

/** The signature a receiver recomputes to authenticate a webhook (pure). */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * Calls every webhook of one type, Flagger-style: POST JSON, 2xx means go.
 * For gates (pre-rollout, confirm-*) any other answer (a redirect
 * included: it is never followed), a timeout or a network error is a "no";
 * notifications (post-rollout, rollback) never block. With a secret, each
 * body is signed (HMAC-SHA256 over timestamp and body), so the receiver
 * can authenticate the engine without a credential in the URL.
 */
export async function callWebhooks(
  hooks: WebhookConfig[],
  type: WebhookType,
  payload: Omit<WebhookPayload, "phase" | "name">,
  secret?: string,
): Promise<{ passed: boolean; detail: string }> {
  const selected = hooks.filter((h) => h.type === type);
  if (selected.length === 0) return { passed: true, detail: `no ${type} webhooks` };
  const results = await Promise.all(
    selected.map(async (h) => {
      const body = JSON.stringify({ ...payload, phase: type, name: h.name });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = {
        "content-type": "application/json",
        ...(secret ? { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signature(secret, timestamp, body) } : {}),
      };
      try {
        const res = await sendRequest("POST", h.url, { body, headers, timeoutMs: h.timeoutSeconds * 1000 });
        if (res.status >= 300 && res.status < 400)
          return {
            name: h.name,
            ok: false,
            detail: `${h.name}: HTTP ${res.status} redirect${res.location ? ` to ${new URL(res.location, h.url).host}` : ""} (redirects are not followed)`,
          };
        return { name: h.name, ok: res.status >= 200 && res.status < 300, detail: `${h.name}: HTTP ${res.status}` };
      } catch (e) {
        return {
          name: h.name,
          ok: false,
          detail: `${h.name}: ${(e as Error).name === "TimeoutError" ? `no answer within ${h.timeoutSeconds} s` : (e as Error).message}`,
        };
      }
    }),
  );
  const failed = results.filter((r) => !r.ok);
  return { passed: failed.length === 0, detail: failed.length ? failed.map((r) => r.detail).join("; ") : results.map((r) => r.detail).join("; ") };
}
