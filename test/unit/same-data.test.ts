// samePlainData: the near-cache's "is this request's data still what was stored?" check.
// Its one rule: answering true must mean the data serializes to what was stored (up to key order).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { samePlainData } from "../../src/core/same-data.js";

const sortKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(sortKeys)
    : value !== null && typeof value === "object"
      ? Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
        )
      : value;
const canonical = (value: unknown) => JSON.stringify(sortKeys(value));
const json = fc.jsonValue({ maxDepth: 4 });

describe("samePlainData", () => {
  it("is true for a copy and for the same values in another key order", () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(samePlainData(JSON.parse(JSON.stringify(value)), JSON.parse(JSON.stringify(value)))).toBe(true);
        const reordered = JSON.parse(JSON.stringify(sortKeys(value)));
        expect(samePlainData(reordered, JSON.parse(JSON.stringify(value)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("true only when both serialize alike (any two JSON values)", () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        const x = JSON.parse(JSON.stringify(a ?? null));
        const y = JSON.parse(JSON.stringify(b ?? null));
        if (samePlainData(x, y)) expect(canonical(x)).toBe(canonical(y));
      }),
      { numRuns: 2000 },
    );
  });

  it("sees a one-spot change anywhere in a tree", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), json, { minKeys: 1 }), fc.nat(), (value, pick) => {
        const pristine = JSON.parse(JSON.stringify(value));
        const current = JSON.parse(JSON.stringify(value));
        const keys = Object.keys(current);
        const key = keys[pick % keys.length] as string;
        current[key] = { changed: current[key] ?? null };
        expect(samePlainData(current, pristine)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("answers false for what it does not compare (so the caller serializes)", () => {
    expect(samePlainData({ at: new Date(0) }, { at: new Date(0) })).toBe(false);
    expect(samePlainData({ m: new Map() }, { m: {} })).toBe(false);
    class Point {
      x = 1;
    }
    expect(samePlainData({ p: new Point() }, { p: { x: 1 } })).toBe(false);
    const shared = { a: 1 };
    expect(samePlainData({ s: shared }, { s: shared })).toBe(false);
    expect(samePlainData({ n: Number.NaN }, { n: null })).toBe(false);
    expect(samePlainData({ z: -0 }, { z: 0 })).toBe(false);
    expect(samePlainData([1, 2], { 0: 1, 1: 2 })).toBe(false);
    expect(samePlainData({ a: undefined }, {})).toBe(false);
    expect(samePlainData(Object.assign(Object.create(null), { a: 1 }), { a: 1 })).toBe(true);
  });
});
