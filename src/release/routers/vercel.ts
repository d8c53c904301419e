import { httpError, RouterError, type Follower } from "./router";
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from "./retry";

/**
 * Vercel's rolling release, stepped in lockstep with the backend gates
 * through Vercel's REST API: approve-stage to advance, complete at 100%,
 * and on rollback point production back at the stable deployment. The
 * project's rolling release must use advancementType "manual-approval" so
 * that only these gates advance it.
 */

export interface VercelTarget {
  projectId: string;
  teamId?: string;
  /** Vercel API token (a Pulumi secret; never logged). */
  token: string;
  canaryDeploymentId: string;
  stableDeploymentId: string;
  endpoint?: string;
}

interface RollingRelease {
  state: "ACTIVE" | "COMPLETE" | "ABORTED";
  canaryDeployment?: { id: string } | null;
  currentDeployment?: { id: string } | null;
  activeStage?: { index: number; targetPercentage: number } | null;
  stages?: { index?: number; targetPercentage: number }[];
}

export class VercelFollower implements Follower {
  readonly description: string;
  private readonly base: string;

  constructor(
    private readonly t: VercelTarget,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {
    this.base = `${(t.endpoint ?? "https://api.vercel.com").replace(/\/$/, "")}`;
    this.description = `vercel project ${t.projectId} (canary ${t.canaryDeploymentId})`;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const q = this.t.teamId ? `?teamId=${encodeURIComponent(this.t.teamId)}` : "";
    return withRetry(
      `vercel ${method} ${path}`,
      async () => {
        let res: Response;
        try {
          res = await fetch(`${this.base}${path}${q}`, {
            method,
            headers: { authorization: `Bearer ${this.t.token}`, "content-type": "application/json" },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
            signal: AbortSignal.timeout(15000),
            // The token and the body never follow a redirect, and no other origin's answer is taken for Vercel's.
            redirect: "manual",
          });
        } catch (e) {
          throw new RouterError(`vercel ${method} ${path}: ${(e as Error).message}`, true);
        }
        if (res.status >= 300 && res.status < 400)
          throw new RouterError(`vercel ${method} ${path}: HTTP ${res.status} redirect to ${res.headers.get("location") ?? "nowhere"}, not followed`, false);
        const text = await res.text();
        if (!res.ok) {
          let message = text.slice(0, 200);
          try {
            message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
          } catch {
            /* not JSON */
          }
          throw httpError(`vercel ${method} ${path}`, res.status, message, res.headers.get("retry-after"));
        }
        return (text ? JSON.parse(text) : {}) as T;
      },
      this.retry,
    );
  }

  private project() {
    return `/v1/projects/${encodeURIComponent(this.t.projectId)}`;
  }

  async status(): Promise<RollingRelease | null> {
    return (await this.call<{ rollingRelease: RollingRelease | null }>("GET", `${this.project()}/rolling-release`)).rollingRelease;
  }

  /** Advances Vercel's stages to the largest one at or below `weight`; 100 completes the release. */
  async setWeight(weight: number): Promise<void> {
    let rr = await this.status();
    if (!rr || rr.state !== "ACTIVE" || rr.canaryDeployment?.id !== this.t.canaryDeploymentId) {
      if (weight === 0) return;
      // Someone else's rolling release is in progress: starting ours would take its traffic over.
      if (rr?.state === "ACTIVE")
        throw new RouterError(
          `vercel project ${this.t.projectId}: another rolling release is active (canary ${rr.canaryDeployment?.id ?? "unknown"}); complete or abort it before this release`,
          false,
        );
      await this.call("POST", `${this.project()}/rolling-release/start`, { canaryDeploymentId: this.t.canaryDeploymentId });
      rr = await this.status();
    }
    if (weight >= 100) {
      await this.call("POST", `${this.project()}/rolling-release/complete`, { canaryDeploymentId: this.t.canaryDeploymentId });
      return;
    }
    const stages = (rr?.stages ?? []).map((s, i) => ({ index: s.index ?? i, pct: s.targetPercentage }));
    const target = stages.filter((s) => s.pct <= weight && s.pct < 100).at(-1);
    const current = rr?.activeStage?.index ?? 0;
    if (target && target.index > current) {
      await this.call("POST", `${this.project()}/rolling-release/approve-stage`, {
        nextStageIndex: target.index,
        canaryDeploymentId: this.t.canaryDeploymentId,
      });
    }
  }

  /** Points production back at the stable deployment (Vercel's instant rollback). */
  async rollback(): Promise<void> {
    await this.call("POST", `${this.project()}/rollback/${encodeURIComponent(this.t.stableDeploymentId)}`);
  }
}
