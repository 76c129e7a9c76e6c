/**
 * The package as users import it: every subpath export resolves in ESM and CJS to a built
 * file with its types, and exports the factory named after it. `npm test` builds first.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  exports: Record<string, string | { import: { types: string; default: string }; require: { types: string; default: string } }>;
  bin: Record<string, string>;
};

const expected: Record<string, string> = {
  ".": "createSessions",
  "./memory": "memoryStore",
  "./sqlite": "sqliteStore",
  "./postgres": "postgresStore",
  "./mysql": "mysqlStore",
  "./redis": "redisStore",
  "./express": "sessionMiddleware",
  "./fastify": "sessionPlugin",
  "./hono": "sessionMiddleware",
  "./koa": "sessionMiddleware",
  "./express-session": "expressSessionStore",
  "./next": "nextSessions",
  "./react-router": "createSessionkitStorage",
  "./sveltekit": "sessionHandle",
  "./otel": "openTelemetry",
};

const node = (code: string, type: "module" | "commonjs") =>
  execFileSync(process.execPath, [type === "module" ? "--input-type=module" : "--input-type=commonjs", "-e", code], {
    cwd: root,
    encoding: "utf8",
  }).trim();

describe("package exports", () => {
  it("lists exactly the documented subpaths", () => {
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== "./package.json");
    expect(subpaths.sort()).toEqual(Object.keys(expected).sort());
  });

  for (const [subpath, name] of Object.entries(expected)) {
    it(`${subpath} resolves in ESM and CJS with types`, () => {
      const entry = pkg.exports[subpath];
      if (typeof entry !== "object") throw new Error(`${subpath} has no conditional export`);
      for (const file of [entry.import.default, entry.import.types, entry.require.default, entry.require.types]) {
        expect(existsSync(join(root, file)), `${file} missing: run npm run build`).toBe(true);
      }
      const specifier = subpath === "." ? "sessionkit" : `sessionkit/${subpath.slice(2)}`;
      expect(node(`import(${JSON.stringify(specifier)}).then(m => console.log(typeof m.${name}))`, "module")).toBe("function");
      expect(node(`console.log(typeof require(${JSON.stringify(specifier)}).${name})`, "commonjs")).toBe("function");
    });
  }

  it("the CLI entry is built and executable by node", () => {
    const bin = pkg.bin.sessionkit as string;
    expect(existsSync(join(root, bin))).toBe(true);
    expect(readFileSync(join(root, bin), "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
  });
});
