/** Property-based: no input a client controls can crash load() or reach the store unverified. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonSerializer } from "../../src/index.js";
import { cookieOf, requestWith, setup } from "../helpers/engine.js";

const headerSafe = fc.string({ unit: fc.constantFrom(..."abcXYZ019-_.=;, %/+\"'\\!~".split("")), maxLength: 300 });

describe("fuzzing the token inputs", () => {
  it("arbitrary cookie headers give a fresh session without touching the store", async () => {
    const ctx = setup();
    await fc.assert(
      fc.asyncProperty(headerSafe, async (value) => {
        ctx.spy.reset();
        const s = await ctx.sessions.load(requestWith(`__Host-sid=${value}`));
        expect(s.isNew).toBe(true);
        expect(ctx.spy.calls).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("well-shaped forged tokens (hex id, canonical secret and signature) reach the HMAC and stop there", async () => {
    const ctx = setup();
    const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split("");
    const hex = fc.string({ unit: fc.constantFrom(..."0123456789abcdef".split("")), minLength: 32, maxLength: 32 });
    // 42 free characters and a last one whose 2 spare bits are zero: the canonical spelling.
    const part = fc
      .tuple(fc.string({ unit: fc.constantFrom(...b64), minLength: 42, maxLength: 42 }), fc.constantFrom(..."AEIMQUYcgkosw048"))
      .map(([head, last]) => head + last);
    const reasons: string[] = [];
    ctx.sessions.on("invalid-token", (e) => reasons.push(e.reason));
    await fc.assert(
      fc.asyncProperty(hex, part, part, async (id, secret, signature) => {
        ctx.spy.reset();
        reasons.length = 0;
        const s = await ctx.sessions.load(requestWith(`__Host-sid=${id}.${secret}.${signature}`));
        expect(s.isNew).toBe(true);
        expect(ctx.spy.calls).toEqual([]); // refused by the signature, before the store
        expect(reasons).toEqual(["bad-signature"]); // the shape check passed: the HMAC decided
      }),
      { numRuns: 300 },
    );
  });

  it("every single-character change to a valid cookie is rejected", async () => {
    const ctx = setup();
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    const cookie = cookieOf(await ctx.sessions.commit(s));
    const value = cookie.slice("__Host-sid=".length);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    await fc.assert(
      fc.asyncProperty(fc.nat(value.length - 1), fc.constantFrom(...alphabet.split("")), async (at, ch) => {
        fc.pre(value[at] !== ch && value[at] !== ".");
        const tampered = value.slice(0, at) + ch + value.slice(at + 1);
        // Spare low bits of the final base64url character may alias the same bytes; we refuse those too.
        const loaded = await ctx.sessions.load(requestWith(`__Host-sid=${tampered}`));
        expect(loaded.isNew).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("arbitrary Authorization headers never crash the header transport", async () => {
    const ctx = setup({ transport: { header: "authorization" } });
    await fc.assert(
      fc.asyncProperty(headerSafe, async (value) => {
        const s = await ctx.sessions.load(requestWith(null, { authorization: `Bearer ${value}` }));
        expect(s.isNew).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("random data round-trips through commit and load", async () => {
    const ctx = setup();
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.string({ minLength: 1 }).filter((k) => k !== "__proto__"),
          fc.jsonValue(),
          { minKeys: 1 },
        ),
        async (data) => {
          const s = await ctx.sessions.load(requestWith(null));
          for (const [k, v] of Object.entries(data)) s.set(k, v);
          const headers = await ctx.sessions.commit(s);
          // The safe parser drops nested __proto__ / constructor.prototype keys: compare with the same rule.
          const expected = jsonSerializer.decode(new TextEncoder().encode(JSON.stringify(s.toJSON())));
          const back = await ctx.sessions.load(requestWith(cookieOf(headers)));
          expect(back.toJSON()).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("reserved keys", () => {
  it('"__proto__" cannot be set as a session key', async () => {
    const ctx = setup();
    const s = await ctx.sessions.load(requestWith(null));
    expect(() => s.set("__proto__", { polluted: true })).toThrow(/cannot be a session key/);
    expect(Object.getPrototypeOf(s.toJSON())).toBe(Object.prototype);
  });
});
