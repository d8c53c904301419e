import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { podTemplateImages } from "../../policies/lib/images";
import type { DeclaredResource } from "../../src/plan/offlineCloud";
import { ROOT } from "./stacks";
import { scratchDir } from "./scratch";

/**
 * A policy config for a stack: the committed policies/config/<stack>.json,
 * with the scan-report gate pointed at clean Trivy JSON reports (one per
 * image the stack deploys) written to a temp dir: what the pipeline's scan
 * step would hand to `pulumi preview`.
 */
export function configWithCleanScans(stack: string, resources: DeclaredResource[]): string {
  const dir = scratchDir("scans-");
  const images = [...new Set(resources.flatMap((r) => podTemplateImages({ type: r.type, props: r.inputs })))];
  const reports = images.map((image, i) => {
    const f = join(dir, `image-${i}.json`);
    writeFileSync(
      f,
      JSON.stringify({
        SchemaVersion: 2,
        ArtifactName: image,
        ArtifactType: "container_image",
        Results: [{ Target: image, Class: "os-pkgs", Vulnerabilities: [{ VulnerabilityID: "CVE-2024-0001", Severity: "LOW" }] }],
      }),
    );
    return f;
  });
  const config = JSON.parse(readFileSync(join(ROOT, "policies", "config", `${stack}.json`), "utf8")) as Record<string, unknown>;
  config["security-scan-report"] = { ...(config["security-scan-report"] as object | undefined), reports };
  const file = join(dir, `${stack}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}
