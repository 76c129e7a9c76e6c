import { describe, expect, it } from "vitest";
import { memoryStore } from "../../src/stores/memory.js";
import { record, runStoreConformance } from "../conformance/store.case.js";

runStoreConformance("memory", { makeStore: async () => memoryStore({ maxEntries: 20_000 }) });

describe("memory store extras", () => {
  it("evicts the least recently used session beyond maxEntries", async () => {
    const store = memoryStore({ maxEntries: 2 });
    const [a, b, c] = [record(), record(), record()];
    await store.create(a);
    await store.create(b);
    await store.get(a.id, 0); // a is now more recent than b
    await store.create(c);
    expect(await store.get(b.id, 0)).toBeNull();
    expect(await store.get(a.id, 0)).not.toBeNull();
    expect(await store.get(c.id, 0)).not.toBeNull();
  });

  it("refuses a nonsensical bound", () => {
    expect(() => memoryStore({ maxEntries: 0 })).toThrow(/maxEntries/);
  });

  it("returns copies, so callers cannot change stored bytes", async () => {
    const store = memoryStore();
    const r = record();
    await store.create(r);
    r.data[0] = (r.data[0] as number) ^ 0xff;
    const got = await store.get(r.id, 0);
    expect(got?.data[0]).not.toBe(r.data[0]);
  });
});
