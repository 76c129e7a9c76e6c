import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser, barrier, makeSessions, parseSetCookie, type TestSessions } from "./harness.js";

/**
 * The routes every adapter test app implements, each in its framework's own idiom:
 *
 * - GET  /read                     -> { cart, userId, id, isNew }
 * - POST /add?item=x               -> pushes x onto "cart" -> { cart }
 * - POST /set?key=k&value=v[&sync] -> sets k; with sync, waits at `arrive()` after loading
 * - GET  /get?key=k                -> { value }
 * - POST /login?user=u             -> session.login(u) -> { id }
 * - POST /logout                   -> session.destroy() -> { ok }
 * - GET  /csrf                     -> { token: session.csrfToken() }
 * - POST /protected                -> behind the adapter's CSRF check -> "ok"
 * - GET  /redirect                 -> sets "redirected", 302 to /read
 * - GET  /cached                   -> sets "cachedVisit" and Cache-Control: private, max-age=60
 */
export interface AdapterApp {
  url: string;
  close(): Promise<void>;
}

export interface AdapterContext extends TestSessions {
  /** Resolves once two requests arrived: proves they overlap between load and commit. */
  arrive: () => Promise<void>;
}

export function runAdapterSuite(name: string, start: (ctx: AdapterContext) => Promise<AdapterApp>) {
  describe(`${name} adapter (real server on 127.0.0.1)`, () => {
    let ctx: AdapterContext;
    let app: AdapterApp;

    beforeAll(async () => {
      const base = makeSessions();
      ctx = { ...base, arrive: barrier(2) };
      app = await start(ctx);
    });
    afterAll(async () => {
      await app.close();
    });

    it("creates nothing for a visitor whose session stays empty, and varies on Cookie", async () => {
      const browser = new Browser(app.url);
      const response = await browser.fetch("/read");
      expect(response.status).toBe(200);
      expect(response.headers.getSetCookie()).toEqual([]);
      expect(response.headers.get("vary")).toMatch(/cookie/i);
      expect(await response.json()).toMatchObject({ cart: null, isNew: true });
    });

    it("creates, reads and changes a session with the cookie attributes of its expiry", async () => {
      const browser = new Browser(app.url);
      const created = await browser.fetch("/add?item=apple", { method: "POST" });
      expect(created.status).toBe(200);
      const lines = created.headers.getSetCookie();
      expect(lines).toHaveLength(1);
      const cookie = parseSetCookie(lines[0] as string);
      expect(cookie.name).toBe("__Host-sid");
      expect(cookie.attributes.has("httponly")).toBe(true);
      expect(cookie.attributes.has("secure")).toBe(true);
      expect(cookie.attributes.get("samesite")?.toLowerCase()).toBe("lax");
      expect(cookie.attributes.get("path")).toBe("/");
      expect(cookie.attributes.has("domain")).toBe(false);
      expect(cookie.attributes.get("max-age")).toBe("3600"); // idleTimeout 1h, clock frozen
      expect(new Date(cookie.attributes.get("expires") as string).getTime()).toBe(ctx.clock.now + 3600_000);
      expect(created.headers.get("cache-control")).toBe("no-store");
      expect(created.headers.get("vary")).toMatch(/cookie/i);

      expect(await browser.json("/read")).toMatchObject({ cart: ["apple"], isNew: false });
      await browser.fetch("/add?item=pear", { method: "POST" });
      expect(await browser.json("/read")).toMatchObject({ cart: ["apple", "pear"] });
    });

    it("rotates the token on login: the old cookie stops working, the data stays", async () => {
      const browser = new Browser(app.url);
      await browser.fetch("/add?item=book", { method: "POST" });
      const before = await browser.json("/read");
      const oldCookies = new Map(browser.cookies);
      const login = await browser.fetch("/login?user=ada", { method: "POST" });
      expect(login.status).toBe(200);
      expect(login.headers.getSetCookie()).toHaveLength(1);
      const after = await browser.json("/read");
      expect(after).toMatchObject({ cart: ["book"], userId: "ada", isNew: false });
      expect(after.id).toBe(before.id); // the public id is stable; the token's secret rotated
      expect(browser.cookies).not.toEqual(oldCookies);

      const attacker = new Browser(app.url);
      for (const [k, v] of oldCookies) attacker.cookies.set(k, v);
      expect(await attacker.json("/read")).toMatchObject({ cart: null, userId: null, isNew: true });
    });

    it("destroys the session on logout and clears the cookie", async () => {
      const browser = new Browser(app.url);
      await browser.fetch("/add?item=tea", { method: "POST" });
      await browser.fetch("/login?user=bob", { method: "POST" });
      const stolen = new Map(browser.cookies);
      const logout = await browser.fetch("/logout", { method: "POST" });
      expect(logout.status).toBe(200);
      const cleared = parseSetCookie(logout.headers.getSetCookie()[0] as string);
      expect(cleared.name).toBe("__Host-sid");
      expect(cleared.attributes.get("max-age")).toBe("0");
      expect(logout.headers.get("cache-control")).toBe("no-store");
      expect(browser.cookies.size).toBe(0);

      const replay = new Browser(app.url);
      for (const [k, v] of stolen) replay.cookies.set(k, v);
      expect(await replay.json("/read")).toMatchObject({ cart: null, userId: null, isNew: true });
    });

    it("gives a forged or garbled cookie a fresh session, never an error", async () => {
      const browser = new Browser(app.url);
      await browser.fetch("/add?item=key", { method: "POST" });
      const value = browser.cookies.get("__Host-sid") as string;
      const forged = new Browser(app.url);
      forged.cookies.set("__Host-sid", `${value.slice(0, -2)}${value.endsWith("AA") ? "BB" : "AA"}`);
      const response = await forged.fetch("/read");
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ cart: null, isNew: true });
      const garbled = new Browser(app.url);
      garbled.cookies.set("__Host-sid", "%%%not-a-token");
      expect((await garbled.fetch("/read")).status).toBe(200);
    });

    it("answers a store failure with a 5xx through the framework's error handling", async () => {
      const browser = new Browser(app.url);
      await browser.fetch("/add?item=x", { method: "POST" });
      ctx.store.failing.add("get");
      try {
        const read = await browser.fetch("/read");
        expect(read.status).toBeGreaterThanOrEqual(500);
        expect(read.headers.getSetCookie()).toEqual([]);
      } finally {
        ctx.store.failing.delete("get");
      }
      ctx.store.failing.add("create");
      try {
        const fresh = new Browser(app.url);
        const write = await fresh.fetch("/add?item=y", { method: "POST" });
        expect(write.status).toBeGreaterThanOrEqual(500);
        expect(write.headers.getSetCookie()).toEqual([]);
      } finally {
        ctx.store.failing.delete("create");
      }
      expect(await browser.json("/read")).toMatchObject({ cart: ["x"] });
    });

    it("keeps both changes when two concurrent requests change different keys", async () => {
      const browser = new Browser(app.url);
      await browser.fetch("/add?item=base", { method: "POST" });
      const [a, b] = await Promise.all([
        browser.fetch("/set?key=left&value=1&sync=1", { method: "POST" }),
        browser.fetch("/set?key=right&value=2&sync=1", { method: "POST" }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(await browser.json("/get?key=left")).toEqual({ value: "1" });
      expect(await browser.json("/get?key=right")).toEqual({ value: "2" });
      expect(await browser.json("/read")).toMatchObject({ cart: ["base"] });
    });

    it("commits before a redirect goes out", async () => {
      const browser = new Browser(app.url);
      const response = await browser.fetch("/redirect");
      expect(response.status).toBe(302);
      expect(response.headers.get("location")).toBe("/read");
      expect(response.headers.getSetCookie()).toHaveLength(1);
      expect(await browser.json("/get?key=redirected")).toEqual({ value: true });
    });

    it("keeps the app's own Cache-Control on a response that sets the cookie", async () => {
      const browser = new Browser(app.url);
      const response = await browser.fetch("/cached");
      expect(response.headers.getSetCookie()).toHaveLength(1);
      expect(response.headers.get("cache-control")).toBe("private, max-age=60");
    });

    it("checks the CSRF token on unsafe methods", async () => {
      const browser = new Browser(app.url);
      const { token } = (await browser.json("/csrf")) as { token: string };
      expect(browser.cookies.size).toBe(1); // asking for a token keeps the session
      expect((await browser.fetch("/protected", { method: "POST" })).status).toBe(403);
      expect((await browser.fetch("/protected", { method: "POST", headers: { "x-csrf-token": "nope" } })).status).toBe(403);
      const ok = await browser.fetch("/protected", { method: "POST", headers: { "x-csrf-token": token } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("ok");

      const other = new Browser(app.url);
      await other.json("/csrf");
      expect((await other.fetch("/protected", { method: "POST", headers: { "x-csrf-token": token } })).status).toBe(403);
    });
  });
}
