/** Per-session lifetime ("remember me"): setLifetime() bounds, storage, cookie Max-Age, browser-session cookies. */
import { describe, expect, it } from "vitest";
import { unwrapPlaintext, wrapPlaintext } from "../../src/core/envelope.js";
import { parseSetCookie } from "../adapters/harness.js";
import { cookieOf, requestWith, setup, T0 } from "../helpers/engine.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const attrs = (headers: Headers) => parseSetCookie(headers.getSetCookie()[0] as string).attributes;

describe("session.setLifetime()", () => {
  it("gives one session a longer idle timeout within maxIdleTimeout; the cookie and the row follow", async () => {
    const ctx = setup({ idleTimeout: "1h", absoluteTimeout: "90d", maxIdleTimeout: "30d" });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    s.setLifetime({ idle: "30d" });
    const headers = await ctx.sessions.commit(s);
    expect(attrs(headers).get("max-age")).toBe(String((30 * DAY) / 1000));
    expect(s.expiresAt?.getTime()).toBe(T0 + 30 * DAY);

    // Stored with the session: still 30 days on the next request, and slides on writes.
    ctx.clock.now += 2 * HOUR; // past the configured 1h
    const again = await ctx.sessions.load(requestWith(cookieOf(headers)));
    expect(again.isNew).toBe(false);
    expect(again.lifetime).toEqual({ idle: 30 * DAY });
    again.set("b", 2);
    const next = await ctx.sessions.commit(again);
    expect(attrs(next).get("max-age")).toBe(String((30 * DAY) / 1000));
  });

  it("refuses a timeout beyond the configured maxima, with the option to raise", async () => {
    const ctx = setup({ idleTimeout: "1h" });
    const s = await ctx.sessions.load(requestWith(null));
    expect(() => s.setLifetime({ idle: "2h" })).toThrow(/maxIdleTimeout/);
    expect(() => s.setLifetime({ idle: null })).toThrow(/no timeout/);
    expect(() => s.setLifetime({ persistent: "no" as never })).toThrow(/true or false/);
  });

  it("persistent: false sends a browser-session cookie while the server still expires the row", async () => {
    const ctx = setup({ idleTimeout: "1h", absoluteTimeout: "1d" });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    s.setLifetime({ persistent: false });
    const headers = await ctx.sessions.commit(s);
    expect(attrs(headers).has("max-age")).toBe(false);
    expect(attrs(headers).has("expires")).toBe(false);
    expect(s.expiresAt?.getTime()).toBe(T0 + HOUR);

    ctx.clock.now += 30 * 60_000;
    const loaded = await ctx.sessions.load(requestWith(cookieOf(headers)));
    expect(loaded.lifetime).toEqual({ persistent: false });
    loaded.set("b", 2);
    const written = await ctx.sessions.commit(loaded);
    expect(attrs(written).has("max-age")).toBe(false);

    ctx.clock.now += 2 * HOUR;
    expect((await ctx.sessions.load(requestWith(cookieOf(headers)))).isNew).toBe(true);
  });

  it("persistent: true goes back to an expiring cookie, and an unchanged lifetime writes nothing", async () => {
    const ctx = setup({ idleTimeout: "1h", touchInterval: "10m" });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    s.setLifetime({ persistent: false });
    const cookie = cookieOf(await ctx.sessions.commit(s));

    const same = await ctx.sessions.load(requestWith(cookie));
    ctx.spy.reset();
    same.setLifetime({ persistent: false });
    await ctx.sessions.commit(same);
    expect(ctx.spy.writes()).toEqual([]);

    const back = await ctx.sessions.load(requestWith(cookie));
    back.setLifetime({ persistent: true });
    const headers = await ctx.sessions.commit(back);
    expect(attrs(headers).get("max-age")).toBe("3600");
  });

  it("the envelope round-trips the flag, and envelopes without it read as persistent", () => {
    const data = new Uint8Array([1, 2, 3]);
    const round = (lifetime: Parameters<typeof wrapPlaintext>[0]["lifetime"]) =>
      unwrapPlaintext(wrapPlaintext({ authenticatedAt: null, lifetime }, data))?.lifetime;
    expect(round({ persistent: false })).toEqual({ persistent: false });
    expect(round({ idle: 5, persistent: false })).toEqual({ idle: 5, persistent: false });
    expect(round({ idle: 5, persistent: true })).toEqual({ idle: 5 });
    expect(round(null)).toBeNull();
  });
});
