/** Meta-test: every store in src/stores/ has a test file that runs the conformance suite. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const stores = readdirSync(join(root, "src/stores"), { withFileTypes: true })
  .filter((e) => (e.isFile() && e.name.endsWith(".ts")) || e.isDirectory())
  .map((e) => e.name.replace(/\.ts$/, ""))
  .filter((name) => !name.includes("-") && !name.startsWith("_") && name !== "sql");

/** The file calls the suite itself, or through a shared `*.case.ts` it imports that does. */
function runsConformance(file: string): boolean {
  const text = readFileSync(file, "utf8");
  if (/runStoreConformance\(/.test(text)) return true;
  return [...text.matchAll(/from "(\.\/[\w-]+\.case)\.js"/g)].some((m) => {
    const shared = join(dirname(file), `${m[1]}.ts`);
    return existsSync(shared) && /runStoreConformance\(/.test(readFileSync(shared, "utf8"));
  });
}

describe("every store runs the conformance suite", () => {
  it("finds the stores", () => expect(stores).toContain("memory"));
  for (const name of stores) {
    it(name, () => {
      const file = join(root, "test/stores", `${name}.test.ts`);
      expect(existsSync(file), `test/stores/${name}.test.ts is missing`).toBe(true);
      expect(runsConformance(file), `test/stores/${name}.test.ts does not run runStoreConformance`).toBe(true);
    });
  }
});
