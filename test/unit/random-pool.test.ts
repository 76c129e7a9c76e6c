// defaultRandom draws from a 4 KiB block at a time: what it handed out must never change,
// and draws must not repeat (ids, secrets and IVs come from it).
import { describe, expect, it } from "vitest";
import { defaultRandom } from "../../src/crypto/token.js";

describe("defaultRandom", () => {
  it("hands out slices that stay as they were across refills, never repeating", () => {
    const drawn = Array.from({ length: 2000 }, (_, i) => defaultRandom(i % 3 === 0 ? 12 : i % 3 === 1 ? 16 : 32));
    const copies = drawn.map((bytes) => Buffer.from(bytes).toString("hex"));
    for (let i = 0; i < 2000; i++) defaultRandom(32); // several more blocks
    expect(drawn.map((bytes) => Buffer.from(bytes).toString("hex"))).toEqual(copies);
    expect(new Set(copies).size).toBe(copies.length);
    expect(drawn.every((bytes, i) => bytes.length === (i % 3 === 0 ? 12 : i % 3 === 1 ? 16 : 32))).toBe(true);
  });

  it("serves large requests directly", () => {
    expect(defaultRandom(1024)).toHaveLength(1024);
  });
});
