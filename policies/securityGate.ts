import type { StackValidationPolicy } from "@pulumi/policy";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { stackEnvironment } from "./lib/environment";
import { podTemplateImages } from "./lib/images";
import { configSchemaOf, readConfig } from "./lib/policy";
import { covers, parseScanReport, ScanReportError, type ScanSummary } from "./lib/scanReport";

const GateConfig = z.strictObject({
  /** Report files (Trivy JSON or SARIF); relative paths are resolved from the policy pack's directory. */
  reports: z.array(z.string().min(1)).default([]),
  maxCritical: z.number().int().min(0).default(0),
  maxHigh: z.number().int().min(0).default(5),
});

export const securityScanReport: StackValidationPolicy = {
  name: "security-scan-report",
  description:
    "The release's images have a vulnerability scan (Trivy JSON or SARIF, paths in this policy's config) with at most maxCritical critical and maxHigh high findings (0 and 5 by default). In production a missing or unreadable report is a violation, not a pass.",
  severity: "critical",
  enforcementLevel: "mandatory",
  configSchema: configSchemaOf(GateConfig),
  validateStack: (args, report) => {
    const cfg = readConfig("security-scan-report", GateConfig, args);
    const production = stackEnvironment(args.resources) === "production";
    if (cfg.reports.length === 0) {
      if (production)
        report(
          "no scan report is configured for production: set security-scan-report.reports in the policy config to your Trivy JSON or SARIF files (e.g. trivy image --format json -o reports/trivy.json <image>).",
        );
      return;
    }
    const summaries: (ScanSummary & { path: string })[] = [];
    for (const path of cfg.reports) {
      const file = resolve(path);
      try {
        summaries.push({ ...parseScanReport(readFileSync(file, "utf8")), path });
      } catch (e) {
        const why = e instanceof ScanReportError ? e.message : (e as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (e as Error).message;
        // Outside production an absent report is not a gate (yet); an unreadable one still says so.
        if (production || !(e as NodeJS.ErrnoException).code)
          report(
            `scan report ${path} is unusable (${why}): produce it in the pipeline before pulumi runs; a release cannot pass the security gate without it.`,
          );
      }
    }
    if (summaries.length === 0) return;
    const critical = summaries.reduce((n, s) => n + s.critical, 0);
    const high = summaries.reduce((n, s) => n + s.high, 0);
    const where = summaries.map((s) => `${s.path}: ${s.critical} critical, ${s.high} high`).join("; ");
    if (critical > cfg.maxCritical)
      report(`${critical} critical vulnerabilities (allowed ${cfg.maxCritical}) in ${where}: upgrade the affected packages or base image and rescan.`);
    if (high > cfg.maxHigh)
      report(`${high} high vulnerabilities (allowed ${cfg.maxHigh}) in ${where}: upgrade the affected packages or base image and rescan.`);
    // Every deployed image must be covered by a scan that names images (reports without names cannot be matched).
    const scanned = summaries.flatMap((s) => s.images);
    if (scanned.length === 0) {
      // An empty report (no runs, no results) or one without artifact names shows no image was scanned.
      const deployed = args.resources.some((r) => podTemplateImages(r).length > 0);
      if (production && deployed)
        report(
          `the scan reports (${cfg.reports.join(", ")}) name no scanned image, so they cannot show that any deployed image was scanned: produce one report per image (trivy image --format json, which records ArtifactName).`,
        );
      return;
    }
    for (const resource of args.resources) {
      for (const image of podTemplateImages(resource)) {
        if (!covers(scanned, image))
          report(`image ${image} is deployed but none of the scan reports covers it: scan exactly this reference (by digest).`, resource.urn);
      }
    }
  },
};
