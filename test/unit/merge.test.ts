import { describe, expect, it } from "vitest";
import { mergeData, mergeField } from "../../src/core/merge.js";

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

describe("mergeData: re-apply my changes onto theirs, per top-level key", () => {
  it("keeps their new keys and adds mine", () => {
    expect(mergeData({ a: 1 }, { a: 1, mine: 2 }, { a: 1, theirs: 3 }, same)).toEqual({ a: 1, mine: 2, theirs: 3 });
  });
  it("my delete wins over their unchanged key; their delete of a key I left alone stands", () => {
    expect(mergeData({ a: 1, b: 2 }, { b: 2 }, { a: 1, b: 2, c: 3 }, same)).toEqual({ b: 2, c: 3 });
    expect(mergeData({ a: 1, b: 2 }, { a: 1, b: 2 }, { b: 2 }, same)).toEqual({ b: 2 });
  });
  it("same key: mine wins (last write); an untouched key takes theirs", () => {
    expect(mergeData({ k: "base" }, { k: "mine" }, { k: "theirs" }, same)).toEqual({ k: "mine" });
    expect(mergeData({ k: "base" }, { k: "base" }, { k: "theirs" }, same)).toEqual({ k: "theirs" });
  });
  it("an in-place edit of a nested object counts as my change", () => {
    const base = { cart: { items: [1] } };
    const mine = { cart: { items: [1, 2] } };
    expect(mergeData(base, mine, { cart: { items: [9] }, x: 1 }, same)).toEqual({ cart: { items: [1, 2] }, x: 1 });
  });
  it("does not change its inputs", () => {
    const theirs = { a: 1 };
    mergeData({}, { b: 2 }, theirs, same);
    expect(theirs).toEqual({ a: 1 });
  });
});

describe("mergeField", () => {
  it("mine if I changed it, else theirs", () => {
    expect(mergeField("u", "u", "v")).toBe("v");
    expect(mergeField("u", "w", "v")).toBe("w");
    expect(mergeField<string | null>(null, null, "v")).toBe("v");
  });
});
