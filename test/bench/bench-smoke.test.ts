// Checks the benchmark harness works (bench/run.mjs), never how fast anything is: speed is
// only ever reported as ratios by `npm run bench`, not asserted in tests.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "sessionkit-bench-smoke-"));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bench/run.mjs", () => {
  it("runs the memory pair at engine level and reports a ratio per scenario", async () => {
    const out = join(dir, "report.md");
    const { stdout } = await run(process.execPath, ["bench/run.mjs", "--quick", "--only", "memory", "--no-http", "--out", out], {
      cwd: root,
    });
    const rows = stdout.split("\n").filter((line) => line.startsWith("engine "));
    expect(rows.map((line) => line.split(/\s+/)[2])).toEqual(["read", "write", "visit"]);
    for (const line of rows) {
      expect(line).toMatch(/ \d+\.\d{2}x /);
      expect(line).toContain("express-session MemoryStore");
    }
    const report = readFileSync(out, "utf8");
    expect(report).toContain("## Engine level (no HTTP)");
    expect(report).toMatch(/\| memory \| read \| [\d,]+ \(±\d+%\) \| [\d,]+ \(±\d+%\) \| \*\*\d+\.\d{2}x\*\* \|/);
    expect(report).toContain(`Node.js ${process.version}`);
    expect(report).toContain("node bench/run.mjs --quick --only memory --no-http --out");
  }, 60_000);

  it("runs the memory group over HTTP: bare app and floor (also in dictionary mode), sessionkit with and without the cache, peer; counts store operations", async () => {
    const out = join(dir, "http.md");
    const { stdout } = await run(
      process.execPath,
      [
        "bench/run.mjs",
        "--quick",
        "--only",
        "memory",
        "--no-engine",
        "--frameworks",
        "express",
        "--scenarios",
        "read",
        "--out",
        out,
      ],
      { cwd: root, timeout: 170_000 },
    );
    const lines = stdout.split("\n").filter((line) => line.startsWith("express "));
    const config = (key: string) => lines.find((line) => line.split(/\s+/)[3] === key) ?? "";
    for (const key of ["bare", "floor", "bare-dict", "floor-dict", "sessionkit", "cache", "peer"])
      expect(config(key)).not.toBe("");
    // The dictionary-mode baselines read no session and the floor's one read is counted.
    expect(config("bare-dict")).toMatch(/ 0\.00 \/ 0\.00 \/ 0\.00 /);
    expect(config("floor-dict")).toMatch(/ 1\.00 \/ 0\.00 \/ 0\.00 /);
    // reads / writes / touches per request: a read-only run shorter than touchInterval writes nothing.
    expect(config("sessionkit")).toMatch(/ 1\.00 \/ 0\.00 \/ 0\.00 /);
    expect(config("cache")).toMatch(/ \d\.\d\d \/ 0\.00 \/ 0\.00 /);
    expect(config("peer")).toMatch(/ \/ 1\.00 /); // express-session touches on every request
    const report = readFileSync(out, "utf8");
    expect(report).toContain("## HTTP level: Express 5");
    expect(report).toContain("of the bare app, dictionary mode");
    expect(report).toMatch(
      /\| read, memory, Express, near-cache: >= 0\.85 of Express alone with req\/res in dictionary mode[^|]*\| \d\.\d\d \|/,
    );
    expect(report).toMatch(
      /\| 0 store writes \(and touches\) by sessionkit in every read-only run[^|]*\| 0 in 1 run\(s\)[^|]*\| yes \|/,
    );
    expect(readFileSync(join(dir, "http.svg"), "utf8")).toMatch(/^<svg /);
  }, 180_000);

  it("refuses an unknown backend and names the valid ones", async () => {
    const failure = await run(process.execPath, ["bench/run.mjs", "--only", "oracle", "--no-write"], { cwd: root }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('unknown "oracle"; pick from memory, sqlite, redis, postgres, mysql');
  });

  it("bench/instructions/app.mjs serves every configuration and scenario from its seeded session", async () => {
    // What valgrind counts (bench/instructions/run.mjs): here only run natively, a few requests
    // each. A configuration that lost its session answers 500 and the app exits non-zero.
    for (const configuration of ["bare", "bare-dict", "sessionkit", "sessionkit-cache", "peer"]) {
      for (const scenario of ["read", "write"]) {
        const result = await run(process.execPath, ["bench/instructions/app.mjs", configuration, scenario, "20", "40"], {
          cwd: root,
        }).then(
          () => "ok",
          (error: { stderr: string }) => error.stderr,
        );
        expect(result, `${configuration} ${scenario}`).toBe("ok");
      }
    }
    const refused = await run(process.execPath, ["bench/instructions/app.mjs", "oracle", "read", "1", "1"], { cwd: root }).then(
      () => null,
      (error: { stderr: string }) => error.stderr,
    );
    expect(refused).toContain("usage: app.mjs");
  }, 60_000);
});
