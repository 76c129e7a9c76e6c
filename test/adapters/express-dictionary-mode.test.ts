import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toDictionaryMode } from "../../src/adapters/dictionary-mode.js";
import { type AppProcess, startProcess, stopProcess } from "../multi-server/processes.js";

describe("toDictionaryMode", () => {
  it("keeps every property, value and attribute; only the key order changes", () => {
    const target: Record<string, unknown> = { a: 1, complete: false, b: { nested: true } };
    const nested = target.b;
    toDictionaryMode(target, "complete");
    expect(target).toEqual({ a: 1, complete: false, b: { nested: true } });
    expect(target.b).toBe(nested);
    expect(Object.getOwnPropertyDescriptor(target, "complete")).toEqual({
      value: false,
      writable: true,
      enumerable: true,
      configurable: true,
    });
    expect(Object.keys(target)).toEqual(["a", "b", "complete"]);
  });

  it("leaves accessors, read-only, hidden, frozen and missing properties alone (no throw)", () => {
    let reads = 0;
    const accessor = {
      get complete() {
        reads++;
        return true;
      },
    };
    toDictionaryMode(accessor, "complete");
    expect(reads).toBe(0);
    expect(Object.getOwnPropertyDescriptor(accessor, "complete")?.get).toBeTypeOf("function");

    const readOnly = Object.defineProperty({}, "complete", { value: 1, enumerable: true, configurable: true });
    toDictionaryMode(readOnly, "complete");
    expect(Object.getOwnPropertyDescriptor(readOnly, "complete")).toMatchObject({ value: 1, writable: false });

    const hidden = Object.defineProperty({}, "complete", { value: 1, writable: true, configurable: true });
    toDictionaryMode(hidden, "complete");
    expect(Object.keys(hidden)).toEqual([]);

    const frozen = Object.freeze({ complete: true });
    expect(() => toDictionaryMode(frozen, "complete")).not.toThrow();
    expect(frozen.complete).toBe(true);

    const inherited = Object.create({ complete: true }) as object;
    toDictionaryMode(inherited, "complete");
    expect(Object.hasOwn(inherited, "complete")).toBe(false);
  });
});

// A canary for the V8 behaviour the option relies on: if a Node upgrade stops switching the
// objects, this fails and docs/benchmarks.md's figures need a new look (the option then does
// nothing, harmlessly).
describe("express adapter: dictionary mode of req and res", () => {
  let app: AppProcess;
  beforeAll(async () => {
    app = await startProcess(fileURLToPath(new URL("./dictionary-mode-app.ts", import.meta.url)), {}, 60_000, [
      "--allow-natives-syntax",
    ]);
  });
  afterAll(async () => {
    await stopProcess(app);
  });

  it("switches both objects by default, and leaves them alone with dictionaryMode: false", async () => {
    const on = await (await fetch(`${app.base}/on`)).json();
    expect(on).toEqual({ req: false, res: false, seen: true });
    const off = await (await fetch(`${app.base}/off`)).json();
    expect(off).toEqual({ req: true, res: true, seen: true });
  });
});
