/**
 * Meta-test: every store in src/stores/ has a test file that really runs the whole conformance
 * suite. It asks vitest which tests each file collects (`vitest list`), rather than grepping
 * the file's text: a call commented out, guarded away or given a subset of cases fails here.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const stores = readdirSync(join(root, "src/stores"), { withFileTypes: true })
  .filter((e) => (e.isFile() && e.name.endsWith(".ts")) || e.isDirectory())
  .map((e) => e.name.replace(/\.ts$/, ""))
  .filter((name) => !name.includes("-") && !name.startsWith("_") && name !== "sql");

/** Conformance cases per suite ("store conformance: <name>") in each test file. */
function collected(): Map<string, Map<string, number>> {
  const files = stores.map((name) => `test/stores/${name}.test.ts`).filter((f) => existsSync(join(root, f)));
  const run = spawnSync(process.execPath, [join(root, "node_modules/vitest/vitest.mjs"), "list", ...files, "--json"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0", SESSIONKIT_META_LIST: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });
  const start = run.stdout.indexOf("[");
  if (start < 0) throw new Error(`vitest list printed no JSON:\n${run.stdout}\n${run.stderr}`);
  const tests = JSON.parse(run.stdout.slice(start)) as Array<{ name: string; file: string }>;
  const out = new Map<string, Map<string, number>>();
  for (const { name, file } of tests) {
    const suite = /(?:^| > )(store conformance: [^>]+?) > /.exec(name)?.[1];
    if (!suite) continue;
    const key = file.replace(`${root}/`, "");
    const suites = out.get(key) ?? new Map<string, number>();
    suites.set(suite, (suites.get(suite) ?? 0) + 1);
    out.set(key, suites);
  }
  return out;
}

// Inside the `vitest list` this file starts, it must not start another one.
describe.skipIf(process.env.SESSIONKIT_META_LIST === "1")(
  "every store runs the whole conformance suite",
  () => {
    const found = collected();
    const reference = Math.max(...(found.get("test/stores/memory.test.ts")?.values() ?? [0]));

    it("finds the stores and the reference suite", () => {
      expect(stores).toContain("memory");
      expect(reference).toBeGreaterThan(20);
    });

    for (const name of stores) {
      it(name, () => {
        const file = `test/stores/${name}.test.ts`;
        expect(existsSync(join(root, file)), `${file} is missing`).toBe(true);
        const suites = found.get(file);
        expect(suites, `${file} collects no "store conformance" tests`).toBeDefined();
        for (const [suite, count] of suites ?? []) {
          expect(count, `${file} › ${suite} runs ${count} of the ${reference} conformance cases`).toBe(reference);
        }
      });
    }
  },
  120_000,
);
