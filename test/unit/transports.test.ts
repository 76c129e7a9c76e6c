import { describe, expect, it } from "vitest";
import { mergeVary } from "../../src/http/apply-headers.js";
import { applySessionHeaders } from "../../src/index.js";
import { cookieOf, requestWith, setup } from "../helpers/engine.js";

describe("header transport", () => {
  it("Authorization: Bearer carries the token; a new token goes back in the same header, no cookie", async () => {
    const ctx = setup({ transport: { header: "authorization" } });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    const headers = await ctx.sessions.commit(s);
    expect(headers.getSetCookie()).toEqual([]);
    const auth = headers.get("authorization") as string;
    expect(auth).toMatch(/^Bearer [0-9a-f]{32}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    expect(headers.get("vary")).toBe("authorization");
    const back = await ctx.sessions.load(requestWith(null, { authorization: auth }));
    expect(back.get("a")).toBe(1);
    expect((await ctx.sessions.load(requestWith(null, { authorization: auth.replace("Bearer", "bearer") }))).isNew).toBe(false);
    expect((await ctx.sessions.load(requestWith(null, { authorization: `Basic ${auth.slice(7)}` }))).isNew).toBe(true);
    // An unchanged or merely updated session sends no token back.
    back.set("b", 2);
    expect((await ctx.sessions.commit(back)).get("authorization")).toBeNull();
    await back.login("u");
    const rotated = (await ctx.sessions.commit(back)).get("authorization");
    expect(rotated).not.toBe(auth);
  });

  it("x-session-token carries the bare value", async () => {
    const ctx = setup({ transport: { header: "x-session-token" } });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    const token = (await ctx.sessions.commit(s)).get("x-session-token") as string;
    expect(token).toMatch(/^[0-9a-f]{32}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    expect((await ctx.sessions.load(requestWith(null, { "x-session-token": token }))).get("a")).toBe(1);
  });

  it("a list serves browsers by cookie and API clients by header from one instance", async () => {
    const ctx = setup({ transport: ["cookie", { header: "authorization" }] });
    const browser = await ctx.sessions.load(requestWith(null));
    browser.set("who", "browser");
    const cookie = cookieOf(await ctx.sessions.commit(browser));
    const api = await ctx.sessions.load(requestWith(null), { transport: "authorization" });
    api.set("who", "api");
    const apiHeaders = await ctx.sessions.commit(api);
    expect(apiHeaders.getSetCookie()).toEqual([]);
    const bearer = apiHeaders.get("authorization") as string;
    expect((await ctx.sessions.load(requestWith(cookie))).get("who")).toBe("browser");
    expect((await ctx.sessions.load(requestWith(null, { authorization: bearer }))).get("who")).toBe("api");
    expect(apiHeaders.get("vary")).toBe("Cookie, authorization");
  });
});

describe("applySessionHeaders", () => {
  it("appends cookies, merges Vary, keeps the app's own Cache-Control", () => {
    const target = new Headers({ vary: "Accept-Encoding", "cache-control": "private, max-age=0" });
    const session = new Headers({ vary: "Cookie", "cache-control": "no-store" });
    session.append("set-cookie", "a=1");
    applySessionHeaders(target, session);
    expect(target.getSetCookie()).toEqual(["a=1"]);
    expect(target.get("vary")).toBe("Accept-Encoding, Cookie");
    expect(target.get("cache-control")).toBe("private, max-age=0");
    const bare = applySessionHeaders(new Headers(), session);
    expect(bare.get("cache-control")).toBe("no-store");
  });

  it("mergeVary never duplicates and respects *", () => {
    expect(mergeVary("cookie", "Cookie")).toBe("cookie");
    expect(mergeVary("*", "Cookie")).toBe("*");
    expect(mergeVary(null, "Cookie, authorization")).toBe("Cookie, authorization");
  });
});

describe("cookie attributes", () => {
  it("__Host- only when Secure, Path=/ and no Domain", async () => {
    const cases: Array<[object, string]> = [
      [{}, "__Host-sid="],
      [{ secure: false }, "sid="],
      [{ path: "/app" }, "sid="],
      [{ domain: "example.com" }, "sid="],
      [{ hostPrefix: false }, "sid="],
    ];
    for (const [cookie, prefix] of cases) {
      const ctx = setup({ cookie });
      const s = await ctx.sessions.load(requestWith(null));
      s.set("a", 1);
      expect((await ctx.sessions.commit(s)).getSetCookie()[0]?.startsWith(prefix)).toBe(true);
    }
  });
});
