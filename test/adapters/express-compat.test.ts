/**
 * sessionkit/express as a drop-in for express-session: the code below is written the way
 * express-session apps (with Passport 0.7 and connect-flash) are, and driven over real HTTP
 * with a cookie jar.
 */
import { createServer } from "node:http";
import flash from "connect-flash";
import express from "express";
import { Passport } from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionMiddleware } from "../../src/adapters/express.js";
import { errorHandler } from "./express-routes.js";
import { Browser, listen, makeSessions, parseSetCookie, type TestSessions } from "./harness.js";

const DAY = 86_400_000;
type User = { id: string; username: string; password: string };
const users = new Map<string, User>([["ada", { id: "u1", username: "ada", password: "lovelace" }]]);

const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
const sidLine = (response: Response) =>
  response.headers
    .getSetCookie()
    .map(parseSetCookie)
    .find((c) => c.name === "sid");

describe("express-session compatibility (Passport 0.7, connect-flash)", () => {
  let t: TestSessions;
  let server: Awaited<ReturnType<typeof listen>>;
  const seenIds: string[] = [];
  const thrown: unknown[] = [];

  beforeAll(async () => {
    t = makeSessions({ cookie: { secure: false }, idleTimeout: "1h", absoluteTimeout: "90d", maxIdleTimeout: "30d" });
    const passport = new Passport();
    passport.use(
      new LocalStrategy((username, password, done) => {
        const user = users.get(username);
        if (!user || user.password !== password) return done(null, false, { message: "Wrong username or password" });
        return done(null, user);
      }),
    );
    passport.serializeUser((user, done) => done(null, (user as User).id));
    passport.deserializeUser((id: string, done) => done(null, [...users.values()].find((u) => u.id === id) ?? false));

    const app = express();
    app.use(sessionMiddleware(t.sessions));
    // Logging middleware as written for express-session: reads req.sessionID.
    app.use((req, _res, next) => {
      seenIds.push(req.sessionID);
      next();
    });
    app.use(express.urlencoded({ extended: false }));
    app.use(flash());
    app.use(passport.session());

    const ensureLoggedIn: express.RequestHandler = (req, res, next) => {
      if (req.isAuthenticated()) return next();
      req.session.returnTo = req.originalUrl;
      res.redirect("/login");
    };
    app.get("/account", ensureLoggedIn, (req, res) => {
      res.json({ user: (req.user as User).username });
    });
    app.get("/login", (req, res) => {
      res.json({ error: req.flash("error"), info: req.flash("info"), messages: req.session.messages ?? [] });
    });
    app.post(
      "/login",
      passport.authenticate("local", {
        failureRedirect: "/login",
        failureFlash: true,
        failureMessage: true,
        successReturnToOrRedirect: "/me",
        keepSessionInfo: true,
      }),
    );
    // A custom callback with req.logIn and an explicit save, plus "remember me".
    app.post("/login-custom", (req, res, next) => {
      passport.authenticate("local", (error: unknown, user: User | false) => {
        if (error) return next(error);
        if (!user) {
          req.flash("error", "try again");
          return res.redirect("/login");
        }
        req.logIn(user, (loginError) => {
          if (loginError) return next(loginError);
          if (req.body.remember === "yes") req.session.cookie.maxAge = 30 * DAY;
          else req.session.cookie.maxAge = null; // gone when the browser closes
          req.session.save((saveError) => (saveError ? next(saveError) : res.redirect("/me")));
        });
      })(req, res, next);
    });
    app.post("/logout", (req, res, next) => {
      req.logout((error) => (error ? next(error) : res.redirect("/me")));
    });
    app.get("/me", (req, res) => {
      res.json({
        user: (req.user as User | undefined)?.username ?? null,
        sessionID: req.sessionID,
        id: req.session.id,
        cart: req.session.cart ?? null,
        userId: req.session.userId ?? null,
      });
    });
    app.post("/cart", (req, res) => {
      req.session.cart = [...((req.session.cart as string[] | undefined) ?? []), String(req.query.item)];
      res.json({ cart: req.session.cart });
    });
    app.post("/flash", (req, res) => {
      req.flash("info", "saved!");
      res.redirect("/login");
    });
    // The canonical express-session login without Passport: a data key named userId.
    app.post("/plain-login", (req, res) => {
      req.session.userId = "u-plain";
      res.json({ userId: req.session.userId, engineUser: req.session.sessionkit.userId });
    });
    app.post("/plain-logout", (req, res) => {
      delete req.session.userId;
      res.json({ keys: Object.keys(req.session) });
    });
    app.post("/destroy-cb", (req, res, next) => {
      req.session.destroy((error) => {
        if (error) return next(error);
        res.json({ session: req.session === undefined ? "removed" : "still there" });
      });
    });
    app.post("/destroy-sync", (req, res) => {
      req.session.destroy();
      res.json({ session: req.session === undefined ? "removed" : "still there" });
    });
    app.post("/expires", (req, res) => {
      req.session.set("x", 1);
      req.session.cookie.expires = new Date(t.clock.now + 2 * DAY);
      res.json({ maxAge: req.session.cookie.maxAge, originalMaxAge: req.session.cookie.originalMaxAge });
    });
    app.post("/too-long", (req, res) => {
      req.session.cookie.maxAge = 365 * DAY;
      res.json({ ok: true });
    });
    app.post("/cookie-attr", (req, res) => {
      req.session.cookie.httpOnly = true; // the configured value: accepted
      res.json({ json: req.session.cookie.toJSON() });
    });
    app.post("/callback-throws", (req, res) => {
      req.session.set("y", 1);
      req.session.save(() => {
        res.json({ ok: true });
        throw new Error("thrown by the app's own callback");
      });
    });
    app.use(errorHandler);
    server = await listen(createServer(app));
  });
  afterAll(async () => {
    await server.close();
  });

  it("login with keepSessionInfo keeps the visitor's data, rotates the token and follows returnTo", async () => {
    const browser = new Browser(server.url);
    await browser.fetch("/cart?item=apple", { method: "POST" });
    const anonymous = browser.cookies.get("sid") as string;
    const guarded = await browser.fetch("/account");
    expect(guarded.headers.get("location")).toBe("/login");

    const login = await browser.fetch("/login", form({ username: "ada", password: "lovelace" }));
    expect(login.status).toBe(302);
    expect(login.headers.get("location")).toBe("/account"); // returnTo, then deleted
    expect(login.headers.getSetCookie()).toHaveLength(1);
    expect(browser.cookies.get("sid")).not.toBe(anonymous);
    expect(await browser.json("/account")).toEqual({ user: "ada" });
    const me = await browser.json("/me");
    expect(me).toMatchObject({ user: "ada", cart: ["apple"] });
    expect(me.sessionID).toBe(me.id);

    // Fixation defence: the pre-login cookie is dead.
    const fixated = new Browser(server.url);
    fixated.cookies.set("sid", anonymous);
    expect(await fixated.json("/me")).toMatchObject({ user: null, cart: null });

    // A second login goes to the default target: returnTo was consumed.
    const again = await browser.fetch("/login", form({ username: "ada", password: "lovelace" }));
    expect(again.headers.get("location")).toBe("/me");
  });

  it("failed logins flash the message (connect-flash) and push it to req.session.messages", async () => {
    const browser = new Browser(server.url);
    const denied = await browser.fetch("/login", form({ username: "ada", password: "nope" }));
    expect(denied.headers.get("location")).toBe("/login");
    expect(await browser.json("/login")).toEqual({
      error: ["Wrong username or password"],
      info: [],
      messages: ["Wrong username or password"],
    });
    // Flash messages are read once.
    expect(await browser.json("/login")).toMatchObject({ error: [] });
    await browser.fetch("/flash", { method: "POST" });
    expect(await browser.json("/login")).toMatchObject({ info: ["saved!"] });
  });

  it("logout(cb) ends the signed-in session; its cookie no longer works", async () => {
    const browser = new Browser(server.url);
    await browser.fetch("/login", form({ username: "ada", password: "lovelace" }));
    const signedIn = browser.cookies.get("sid") as string;
    const logout = await browser.fetch("/logout", { method: "POST" });
    expect(logout.status).toBe(302);
    expect(await browser.json("/me")).toMatchObject({ user: null });
    const replay = new Browser(server.url);
    replay.cookies.set("sid", signedIn);
    expect(await replay.json("/me")).toMatchObject({ user: null });
  });

  it("custom callback with req.logIn + save(cb): remember me sets a 30-day cookie, otherwise a browser-session cookie", async () => {
    const remembered = new Browser(server.url);
    const long = await remembered.fetch("/login-custom", form({ username: "ada", password: "lovelace", remember: "yes" }));
    expect(long.headers.get("location")).toBe("/me");
    expect(sidLine(long)?.attributes.get("max-age")).toBe(String((30 * DAY) / 1000));
    expect(await remembered.json("/me")).toMatchObject({ user: "ada" });
    // The lifetime is stored with the session: still valid after the configured 1h idle timeout.
    t.clock.now += 2 * 3_600_000;
    expect(await remembered.json("/me")).toMatchObject({ user: "ada" });

    const brief = new Browser(server.url);
    const short = await brief.fetch("/login-custom", form({ username: "ada", password: "lovelace" }));
    const line = sidLine(short);
    expect(line).toBeDefined();
    expect(line?.attributes.has("max-age")).toBe(false);
    expect(line?.attributes.has("expires")).toBe(false);
    expect(await brief.json("/me")).toMatchObject({ user: "ada" });
    t.clock.now += 2 * 3_600_000; // the server-side idle timeout still applies
    expect(await brief.json("/me")).toMatchObject({ user: null });

    const wrong = await new Browser(server.url).fetch("/login-custom", form({ username: "ada", password: "x" }));
    expect(wrong.headers.get("location")).toBe("/login");
  });

  it("cookie.expires writes become the idle timeout; beyond maxIdleTimeout is a clear 5xx", async () => {
    const browser = new Browser(server.url);
    const response = await browser.fetch("/expires", { method: "POST" });
    expect(await response.json()).toEqual({ maxAge: 2 * DAY, originalMaxAge: 2 * DAY });
    expect(sidLine(response)?.attributes.get("max-age")).toBe(String((2 * DAY) / 1000));
    expect((await browser.fetch("/too-long", { method: "POST" })).status).toBe(500);
    const attr = await browser.json("/cookie-attr", { method: "POST" });
    expect(attr.json).toMatchObject({ httpOnly: true, path: "/", sameSite: "lax" });
  });

  it("req.session.userId = ... stores data, as with express-session; delete removes it", async () => {
    const browser = new Browser(server.url);
    expect(await browser.json("/plain-login", { method: "POST" })).toEqual({ userId: "u-plain", engineUser: null });
    expect(await browser.json("/me")).toMatchObject({ userId: "u-plain" });
    expect(await browser.json("/plain-logout", { method: "POST" })).toEqual({ keys: [] });
  });

  it("destroy(cb) and destroy() remove req.session and the stored session, and clear the cookie", async () => {
    for (const path of ["/destroy-cb", "/destroy-sync"]) {
      const browser = new Browser(server.url);
      await browser.fetch("/cart?item=pear", { method: "POST" });
      const cookie = browser.cookies.get("sid") as string;
      const response = await browser.fetch(path, { method: "POST" });
      expect(await response.json()).toEqual({ session: "removed" });
      expect(sidLine(response)?.attributes.get("max-age")).toBe("0");
      const replay = new Browser(server.url);
      replay.cookies.set("sid", cookie);
      expect(await replay.json("/me")).toMatchObject({ cart: null });
    }
  });

  it("req.sessionID is the public id for every request, stable across login", async () => {
    const browser = new Browser(server.url);
    seenIds.length = 0;
    await browser.fetch("/cart?item=fig", { method: "POST" });
    const me = await browser.json("/me");
    expect(seenIds[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(seenIds[0]).toBe(me.id);
  });

  it("an exception thrown by a save() callback surfaces as an uncaught exception, not an unhandled rejection", async () => {
    const onUncaught = (error: unknown) => thrown.push(error);
    const onRejection = (error: unknown) => thrown.push(["rejection", error]);
    const listeners = process.listeners("uncaughtException");
    process.removeAllListeners("uncaughtException");
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onRejection);
    try {
      const response = await new Browser(server.url).fetch("/callback-throws", { method: "POST" });
      expect(response.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(thrown).toHaveLength(1);
      expect(thrown[0]).toMatchObject({ message: "thrown by the app's own callback" });
    } finally {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onRejection);
      for (const listener of listeners) process.on("uncaughtException", listener);
    }
  });
});
