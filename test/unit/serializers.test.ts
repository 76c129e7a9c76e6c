import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonSerializer, structuredSerializer } from "../../src/index.js";
import { cookieOf, requestWith, setup } from "../helpers/engine.js";

const text = (u: Uint8Array | string) => (typeof u === "string" ? u : Buffer.from(u).toString("utf8"));
const bytes = (u: Uint8Array | string) => (typeof u === "string" ? new TextEncoder().encode(u) : u);

// Keys the safe parser drops on purpose are left out of the generated data.
const key = fc.string().filter((k) => k !== "__proto__" && k !== "constructor");
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value")),
    fc.dictionary(key, tie("value")),
  ),
}));

describe("json serializer", () => {
  it("round-trips any JSON object", () => {
    fc.assert(
      fc.property(fc.dictionary(key, value), (data) => {
        const back = jsonSerializer.decode(bytes(jsonSerializer.encode(data)));
        expect(back).toEqual(JSON.parse(JSON.stringify(data)));
      }),
    );
  });

  it("parsing never pollutes prototypes", () => {
    const evil = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}';
    const back = jsonSerializer.decode(new TextEncoder().encode(evil));
    expect(back).toEqual({ ok: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect({ ...back }.polluted).toBeUndefined();
  });

  it("refuses bytes that are not a JSON object", () => {
    for (const bad of ["[1,2]", "42", "null", "{", "\xff\xfe"]) {
      expect(() => jsonSerializer.decode(Buffer.from(bad, "latin1"))).toThrow();
    }
    expect(text(jsonSerializer.encode({ a: 1 }))).toBe('{"a":1}');
  });
});

describe("structured serializer", () => {
  it("keeps Date, Map, Set, BigInt, typed arrays and cycles", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const data = {
      when: new Date(1_700_000_000_123),
      map: new Map([["a", 1]]),
      set: new Set([1, 2]),
      big: 2n ** 70n,
      bytes: new Uint8Array([0, 255]),
      cyclic,
    };
    const back = structuredSerializer.decode(bytes(structuredSerializer.encode(data))) as typeof data;
    expect(back.when).toEqual(data.when);
    expect(back.map.get("a")).toBe(1);
    expect([...back.set]).toEqual([1, 2]);
    expect(back.big).toBe(2n ** 70n);
    expect([...back.bytes]).toEqual([0, 255]);
    expect(back.cyclic.self).toBe(back.cyclic);
  });

  it("works through the engine", async () => {
    const ctx = setup<{ when: Date; tags: Set<string> }>({ serializer: "structured" });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("when", new Date(5));
    s.set("tags", new Set(["a"]));
    const cookie = cookieOf(await ctx.sessions.commit(s));
    const back = await ctx.sessions.load(requestWith(cookie));
    expect(back.get("when")).toEqual(new Date(5));
    expect(back.get("tags")?.has("a")).toBe(true);
  });
});

describe("custom serializer", () => {
  it("is used for data and sees only the app's data", async () => {
    const seen: unknown[] = [];
    const ctx = setup({
      serializer: {
        encode: (data) => {
          seen.push(data);
          return `custom:${JSON.stringify(data)}`;
        },
        decode: (b) => JSON.parse(Buffer.from(b).toString().slice("custom:".length)),
      },
    });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    const cookie = cookieOf(await ctx.sessions.commit(s));
    expect((await ctx.sessions.load(requestWith(cookie))).get("a")).toBe(1);
    expect(seen).toContainEqual({ a: 1 });
  });
});
