import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { TSX } from "../support/processes";
import { ROOT } from "../support/stacks";

/** The project's commands as `npm run NAME` runs them (src/cli/NAME.ts). */
const COMMANDS = ["plan", "rollout", "rollback", "status", "report"] as const;
const run = (name: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(TSX, [join(ROOT, "src", "cli", `${name}.ts`), ...args], { cwd: ROOT, encoding: "utf8", env, timeout: 120_000 });
const options = (text: string) => new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z-]+/g)].map((m) => m[0]).filter((o) => o !== "--silent"));

describe("every command", () => {
  it.each(COMMANDS)("%s: -h and --help print the usage on stdout and exit 0; --version prints the version", (name) => {
    for (const flag of ["-h", "--help"]) {
      const r = run(name, [flag]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: npm run -s ${name} -- `));
      expect(r.stdout).toContain("-h, --help");
    }
    const v = run(name, ["--version"]);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`^${name} \\(progressive-delivery \\d+\\.\\d+\\.\\d+\\)\\n$`));
  });

  it.each(["rollback", "status", "report"])("%s: a missing Pulumi CLI is said in words, not as `code: -2`", (name) => {
    const r = run(name, ["--stack", "production"], {
      ...process.env,
      PATH: [dirname(process.execPath), join(ROOT, "node_modules", ".bin"), "/nonexistent"].join(":"),
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${name}: the Pulumi CLI was not found on PATH: install it`));
    expect(r.stderr).not.toContain("code: -2");
  });

  it("an unknown option is named, with the usage", () => {
    const r = run("status", ["--stak", "production"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^status: Unknown option '--stak'/);
    expect(r.stderr).toContain("usage: npm run -s status");
  });

  it("the option names agree across commands where they mean the same (the Pulumi CLI's spelling)", () => {
    const all = COMMANDS.map((c) => options(run(c, ["--help"]).stdout));
    expect(all.some((o) => o.has("--policy-config"))).toBe(false);
    expect(options(run("plan", ["--help"]).stdout)).toContain("--policy-pack-config");
    expect(options(run("rollback", ["--help"]).stdout)).toContain("--policy-pack-config");
  });

  it("the README documents every option each command's --help lists, and lists no option a command does not take", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme, "the old spelling of --policy-pack-config").not.toMatch(/--policy-config(?![\w-])/);
    for (const name of COMMANDS) {
      const help = options(run(name, ["--help"]).stdout);
      // Lines of the README that run this command: every option on them.
      const lines = readme.split("\n").filter((l) => new RegExp(`npm run (-s |--silent )?${name}\\b`).test(l));
      const documented = new Set(lines.flatMap((l) => [...options(l.slice(l.search(new RegExp(`npm run (-s |--silent )?${name}\\b`))))]));
      for (const o of help) if (o !== "--help" && o !== "--version") expect(readme, `${name} ${o} in the README`).toMatch(new RegExp(`${o}(?![\\w-])`));
      for (const o of documented) expect([...help], `README's ${name} ${o} is a real option`).toContain(o);
    }
  });
});

describe("a secret in the wrong place is never echoed", () => {
  it("a rollout file with a mapping where a list belongs, or a kubeconfig pasted into a name, is refused without its values", () => {
    const dir = mkdtempSync(join(tmpdir(), "rollout-secret-"));
    try {
      const file = join(dir, "rollout.yaml");
      writeFileSync(
        file,
        [
          "environment: production",
          "stable: blue",
          "candidate: green",
          'release: { strategy: direct, target: cloud-run, smokeTests: { paths: [/health], retries: 0, failFast: true }, webhooks: [{ name: g, type: post-rollout, url: "https:ops:SENTINEL_PW@hooks.example.com/x" }] }',
          'target: { kind: haproxy, runtimeApi: 127.0.0.1:1, backend: "apiVersion: v1 users: - token: SENTINEL_KUBE_TOKEN", stateFile: state.json }',
          "metrics: { url: http://127.0.0.1:1, preset: haproxy, scope: be_app }",
          "followers: { kind: vercel, token: SENTINEL_VERCEL_TOKEN_1234 }",
        ].join("\n"),
      );
      for (const args of [
        ["--config", file, "--plan"],
        ["--config", file, "--plan", "--json"],
      ]) {
        const r = run("rollout", args);
        expect(r.status).toBe(1);
        const out = r.stdout + r.stderr;
        expect(out).toMatch(/followers: .*\(found an object with keys kind, token\)/);
        expect(out).toMatch(/target\.backend: .*\(found a string of \d+ characters\)/);
        expect(out).toMatch(/release\.webhooks\.0\.url: https:\/\/hooks\.example\.com\/… carries credentials/);
        expect(out).not.toContain("SENTINEL");
      }
      // A `__proto__` key is named, not dropped.
      writeFileSync(join(dir, "proto.json"), '{"environment": "production", "release": {"analysis": {"stepCriteria": {"__proto__": {"errorRate": 0.5}}}}}');
      const proto = run("rollout", ["--config", join(dir, "proto.json"), "--plan"]);
      expect(proto.status).toBe(1);
      expect(proto.stderr).toContain("release.analysis.stepCriteria.__proto__: `__proto__` is not a key this file can have");
      // A file that does not parse is named with the line, never quoted: the broken line may hold the token.
      writeFileSync(join(dir, "broken.yaml"), "environment: production\nfollowers: [{ token: SENTINEL_BROKEN_1234\n");
      writeFileSync(join(dir, "broken.json"), '{"followers": [{"token": SENTINEL_BROKEN_1234}]}');
      for (const name of ["broken.yaml", "broken.json"]) {
        const r = run("rollout", ["--config", join(dir, name), "--plan", "--json"]);
        expect(r.status).toBe(1);
        expect((JSON.parse(r.stdout) as { problems: string[] }).problems[0]).toMatch(/: is not valid (YAML at line \d+, column \d+|JSON)/);
        expect(r.stdout + r.stderr).not.toContain("SENTINEL");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("output through a pipe", () => {
  it("the offline plan's JSON arrives whole through a real pipe (well over 64 KiB)", () => {
    const r = spawnSync(
      "bash",
      [
        "-c",
        'set -o pipefail; npm run --silent plan -- --stack staging --json --no-policies | node -e \'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(s.length, j.ok, j.resources.length)})\'',
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const [bytes, ok, resources] = r.stdout.trim().split(" ");
    expect(Number(bytes)).toBeGreaterThan(65_536);
    expect(ok).toBe("true");
    expect(Number(resources)).toBeGreaterThan(50);
  });
});
