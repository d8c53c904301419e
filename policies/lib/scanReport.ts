/**
 * Vulnerability scan reports (Trivy JSON, schema version 2, and SARIF 2.1.0
 * as Trivy writes it), reduced to what the security gate needs: which
 * images were scanned and how many critical and high findings they have.
 */
export interface ScanSummary {
  format: "trivy-json" | "sarif";
  /** Image references the report covers (names, tags and digests). */
  images: string[];
  critical: number;
  high: number;
}

export class ScanReportError extends Error {}

interface TrivyJson {
  SchemaVersion?: number;
  ArtifactName?: string;
  Metadata?: { RepoTags?: string[]; RepoDigests?: string[] };
  Results?: { Vulnerabilities?: { Severity?: string }[] | null }[] | null;
}

interface Sarif {
  version?: string;
  runs?: {
    tool?: { driver?: { rules?: { id?: string; properties?: { tags?: string[]; "security-severity"?: string } }[] } };
    results?: { ruleId?: string; ruleIndex?: number; level?: string }[];
    properties?: { imageName?: string; repoDigests?: string[]; repoTags?: string[] };
  }[];
}

/** Severity of a SARIF rule: Trivy's severity tag, else GitHub's security-severity bands (≥9 critical, ≥7 high). */
function sarifSeverity(rule: { properties?: { tags?: string[]; "security-severity"?: string } } | undefined): "critical" | "high" | "other" {
  const tags = (rule?.properties?.tags ?? []).map((t) => t.toUpperCase());
  if (tags.includes("CRITICAL")) return "critical";
  if (tags.includes("HIGH")) return "high";
  const score = Number(rule?.properties?.["security-severity"]);
  if (Number.isFinite(score)) return score >= 9 ? "critical" : score >= 7 ? "high" : "other";
  return "other";
}

export function parseScanReport(text: string): ScanSummary {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    // The parser's message quotes the text around the error, and a report can hold matched secrets: keep only where it failed.
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new ScanReportError(`not JSON${at ? ` (invalid at character ${at})` : ""}`, { cause: e });
  }
  if (typeof doc !== "object" || doc === null) throw new ScanReportError("not a JSON object");
  if ("runs" in doc) {
    const sarif = doc as Sarif;
    if (!Array.isArray(sarif.runs)) throw new ScanReportError("SARIF without a runs array");
    let critical = 0;
    let high = 0;
    const images: string[] = [];
    for (const run of sarif.runs) {
      const rules = run.tool?.driver?.rules ?? [];
      const byId = new Map(rules.map((r) => [r.id, r]));
      for (const r of run.results ?? []) {
        const sev = sarifSeverity(r.ruleIndex !== undefined ? rules[r.ruleIndex] : byId.get(r.ruleId));
        if (sev === "critical") critical++;
        else if (sev === "high") high++;
      }
      const p = run.properties;
      if (p?.imageName) images.push(p.imageName);
      images.push(...(p?.repoDigests ?? []), ...(p?.repoTags ?? []));
    }
    return { format: "sarif", images, critical, high };
  }
  const trivy = doc as TrivyJson;
  if (trivy.SchemaVersion !== 2 || !("Results" in trivy || "ArtifactName" in trivy))
    throw new ScanReportError("neither a Trivy JSON report (SchemaVersion 2) nor SARIF");
  let critical = 0;
  let high = 0;
  for (const r of trivy.Results ?? []) {
    for (const v of r.Vulnerabilities ?? []) {
      const s = (v.Severity ?? "").toUpperCase();
      if (s === "CRITICAL") critical++;
      else if (s === "HIGH") high++;
    }
  }
  const images = [...(trivy.ArtifactName ? [trivy.ArtifactName] : []), ...(trivy.Metadata?.RepoDigests ?? []), ...(trivy.Metadata?.RepoTags ?? [])];
  return { format: "trivy-json", images, critical, high };
}

/** Does a scanned reference cover a deployed image? Same digest, or same name and tag. */
export function covers(scanned: readonly string[], image: string): boolean {
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1];
  if (digest) return scanned.some((s) => s.endsWith(`@${digest}`));
  return scanned.includes(image);
}
