/** Per-session lifetime ("remember me"): stored encrypted with the session, bounded by the maxima. */
import { describe, expect, it } from "vitest";
import { SessionConfigError } from "../../src/index.js";
import { cookieOf, requestWith, setup, T0 } from "../helpers/engine.js";

const DAY = 86_400_000;
const maxAge = (headers: Headers) => Number(/Max-Age=(\d+)/.exec(headers.getSetCookie()[0] ?? "")?.[1]);

describe("session.setLifetime", () => {
  it("a remembered session outlives the default idle timeout; the cookie's Max-Age follows", async () => {
    const ctx = setup({ idleTimeout: "1d", absoluteTimeout: "30d", maxIdleTimeout: "30d" });
    const s = await ctx.sessions.load(requestWith(null));
    await s.login("u");
    s.setLifetime({ idle: "30d" });
    const headers = await ctx.sessions.commit(s);
    expect(maxAge(headers)).toBe(30 * 86_400);
    const cookie = cookieOf(headers);
    ctx.clock.now = T0 + 10 * DAY; // past the default 1 day, within 30
    const later = await ctx.sessions.load(requestWith(cookie));
    expect(later.isNew).toBe(false);
    expect(later.lifetime).toEqual({ idle: 30 * DAY });
  });

  it("a session without one keeps the configured timeouts", async () => {
    const ctx = setup({ idleTimeout: "1d", maxIdleTimeout: "30d" });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    const cookie = cookieOf(await ctx.sessions.commit(s));
    ctx.clock.now = T0 + 2 * DAY;
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("can shorten a session's life, and the absolute timeout still applies", async () => {
    const ctx = setup({ idleTimeout: "7d", absoluteTimeout: "30d" });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    s.setLifetime({ idle: "1h", absolute: "2h" });
    const cookie = cookieOf(await ctx.sessions.commit(s));
    ctx.clock.now = T0 + 90 * 60_000;
    const mid = await ctx.sessions.load(requestWith(cookie));
    mid.set("b", 2); // activity slides the 1 h idle timeout...
    await ctx.sessions.commit(mid);
    ctx.clock.now = T0 + 2 * 3_600_000; // ...but not the 2 h absolute one
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("refuses more than the maxima allow, with an error naming the option", async () => {
    const ctx = setup({ idleTimeout: "1d", absoluteTimeout: "30d" });
    const s = await ctx.sessions.load(requestWith(null));
    expect(() => s.setLifetime({ idle: "2d" })).toThrow(SessionConfigError);
    expect(() => s.setLifetime({ idle: "2d" })).toThrow(/maxIdleTimeout/);
    expect(() => s.setLifetime({ absolute: null })).toThrow(/maxAbsoluteTimeout/);
    expect(() => s.setLifetime({ idle: "12h" })).not.toThrow();
    expect(() => s.setLifetime({ idle: "soon" as never })).toThrow(/idle must be/);
  });

  it("survives a concurrent write by another request (merged like any field)", async () => {
    const ctx = setup({ idleTimeout: "1d", maxIdleTimeout: "30d" });
    const first = await ctx.sessions.load(requestWith(null));
    first.set("a", 1);
    const cookie = cookieOf(await ctx.sessions.commit(first));
    const remember = await ctx.sessions.load(requestWith(cookie));
    const other = await ctx.sessions.load(requestWith(cookie));
    remember.setLifetime({ idle: "30d" });
    other.set("b", 2);
    await Promise.all([ctx.sessions.commit(remember), ctx.sessions.commit(other)]);
    const after = await ctx.sessions.load(requestWith(cookie));
    expect(after.lifetime).toEqual({ idle: 30 * DAY });
    expect(after.get("b")).toBe(2);
  });
});
