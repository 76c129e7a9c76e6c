/**
 * `npx sessionkit` through bin/sessionkit.mjs, in the three shapes it meets: a fresh clone
 * after `npm ci` (source and tsx, no dist/), the published package (dist/ only), and neither.
 * Each shape is a temporary copy with the repository's node_modules linked in, so nothing is
 * installed or built here.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const repo = process.cwd();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A package folder holding package.json, bin/ and the given extra folders. */
function shape(extra: string[], linkModules = true): string {
  const dir = mkdtempSync(join(tmpdir(), "sessionkit-bin-"));
  dirs.push(dir);
  for (const part of ["package.json", "bin", "tsconfig.json", ...extra])
    cpSync(join(repo, part), join(dir, part), { recursive: true });
  if (linkModules) symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

function run(dir: string, command: string, args: string[]) {
  const { SESSIONKIT_STORE: _ignored, ...env } = process.env;
  const r = spawnSync(command, args, { cwd: dir, env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const version = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;

describe("bin/sessionkit.mjs", () => {
  it("package.json's bin is the script, shipped in files", () => {
    const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin.sessionkit).toBe("./bin/sessionkit.mjs");
    expect(pkg.files).toContain("bin");
  });

  it("a fresh clone after npm ci (no dist/): `npx sessionkit` runs the source", () => {
    const dir = shape(["src"]);
    expect(existsSync(join(dir, "dist"))).toBe(false);
    // --offline --no: never ask the registry; npx finds the project's own bin.
    const v = run(dir, "npx", ["--offline", "--no", "sessionkit", "--", "--version"]);
    expect(v, v.err).toMatchObject({ code: 0, out: `${version}\n` });
    const migrated = run(dir, "npx", ["--offline", "--no", "sessionkit", "migrate", "--store", "sqlite:./s.sqlite"]);
    expect(migrated.code, migrated.err).toBe(0);
    expect(migrated.out).toContain(join(dir, "s.sqlite"));
    expect(existsSync(join(dir, "s.sqlite"))).toBe(true);
  });

  it.skipIf(!existsSync(join(repo, "dist", "cli", "main.js")))(
    "the published package (dist/, no src/): runs dist/cli/main.js",
    () => {
      const dir = shape(["dist"]);
      const r = run(dir, process.execPath, [join(dir, "bin", "sessionkit.mjs"), "--version"]);
      expect(r, r.err).toMatchObject({ code: 0, out: `${version}\n` });
    },
  );

  it("neither dist/ nor tsx: says how to build, exit 1, no stack trace", () => {
    const dir = shape(["src"], false);
    const r = run(dir, process.execPath, [join(dir, "bin", "sessionkit.mjs"), "--help"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the command is not built \(.*dist\/cli\/main\.js is missing\).*\n.*npm ci.*npm run build/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});
