import { createServer } from "node:http";
import express from "express";
import passport from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { type ExpressSession, sessionMiddleware } from "../../src/adapters/express.js";
import { runAdapterSuite } from "./adapter.case.js";
import { errorHandler, routes } from "./express-routes.js";
import { Browser, listen, makeSessions, type TestSessions } from "./harness.js";

runAdapterSuite("express", async ({ sessions, arrive }) => {
  const app = express();
  app.use(sessionMiddleware(sessions));
  routes(app, arrive);
  app.use(errorHandler);
  return listen(createServer(app));
});

describe("express adapter specifics", () => {
  let t: TestSessions;
  let url: string;
  let close: () => Promise<void>;
  const users = new Map([["ada", { id: "u1", username: "ada", password: "lovelace" }]]);

  beforeAll(async () => {
    t = makeSessions({ cookie: { secure: false } });
    passport.use(
      new LocalStrategy((username, password, done) => {
        const user = users.get(username);
        done(null, user && user.password === password ? user : false);
      }),
    );
    passport.serializeUser((user, done) => done(null, (user as { id: string }).id));
    passport.deserializeUser((id: string, done) => done(null, [...users.values()].find((u) => u.id === id) ?? false));

    const app = express();
    app.use(sessionMiddleware(t.sessions));
    app.use(express.urlencoded({ extended: false }));
    app.use(passport.session());
    app.post("/login", passport.authenticate("local", { failureRedirect: "/denied" }), (_req, res) => {
      res.redirect("/me");
    });
    app.post("/logout", (req, res, next) => {
      req.logout((error) => (error ? next(error) : res.redirect("/me")));
    });
    app.get("/me", (req, res) => {
      res.json({
        user: (req.user as { username?: string } | undefined)?.username ?? null,
        passport: req.session.passport ?? null,
      });
    });
    app.post("/visit", (req, res) => {
      req.session.visits = ((req.session.visits as number | undefined) ?? 0) + 1;
      res.json({ visits: req.session.visits });
    });
    app.post("/forget", (req, res) => {
      delete req.session.visits;
      res.json({ keys: Object.keys(req.session) });
    });
    app.get("/stream", (req, res) => {
      req.session.set("streamed", true);
      res.writeHead(200, { "content-type": "text/plain", "set-cookie": "theme=dark; Path=/" });
      res.write("one,");
      setImmediate(() => {
        res.write("two,");
        res.end("three");
      });
    });
    app.post("/save-then-change", (req, res, next) => {
      req.session.set("step", 1);
      req.session.save((error) => {
        if (error) return next(error);
        req.session.set("step", 2);
        res.json({ ok: true });
      });
    });
    app.post("/regenerate", (req, res, next) => {
      req.session.regenerate((error) => {
        if (error) return next(error);
        req.session.set("fresh", true);
        res.json({ keys: Object.keys(req.session) });
      });
    });
    app.post("/reload", (req, res, next) => {
      req.session.set("unsaved", true);
      req.session.reload((error) => {
        if (error) return next(error);
        res.json({ unsaved: req.session.get("unsaved") ?? null, visits: req.session.get("visits") ?? null });
      });
    });
    app.get("/read-stream", (req, res) => {
      // A read-only request: the commit has nothing to write, so the response is not held back.
      const visits = req.session.get("visits") ?? null;
      res.writeHead(200, { "content-type": "text/plain", vary: "Accept", "cache-control": "max-age=60" });
      res.write(`visits=${visits};`);
      setImmediate(() => res.end("done"));
    });
    app.get("/throws", (req) => {
      req.session.set("beforeError", true);
      throw new Error("boom");
    });
    app.use(errorHandler);
    ({ url, close } = await listen(createServer(app)));
  });
  afterAll(async () => {
    await close();
  });

  const form = (fields: Record<string, string>) => ({
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });

  it("runs Passport 0.7 local login and logout unchanged (regenerate, save, req.session.passport)", async () => {
    const browser = new Browser(url);
    await browser.fetch("/visit", { method: "POST" });
    const anonymous = browser.cookies.get("sid");
    expect(anonymous).toBeDefined();

    const denied = await browser.fetch("/login", form({ username: "ada", password: "wrong" }));
    expect(denied.status).toBe(302);
    expect(denied.headers.get("location")).toBe("/denied");

    const login = await browser.fetch("/login", form({ username: "ada", password: "lovelace" }));
    expect(login.status).toBe(302);
    expect(login.headers.get("location")).toBe("/me");
    expect(login.headers.getSetCookie()).toHaveLength(1); // the cleared old cookie is superseded
    expect(browser.cookies.get("sid")).not.toBe(anonymous); // regenerate: fixation defence
    expect(await browser.json("/me")).toEqual({ user: "ada", passport: { user: "u1" } });

    const fixated = new Browser(url);
    fixated.cookies.set("sid", anonymous as string);
    expect(await fixated.json("/me")).toEqual({ user: null, passport: null });

    const loggedIn = browser.cookies.get("sid") as string;
    const logout = await browser.fetch("/logout", { method: "POST" });
    expect(logout.status).toBe(302);
    expect(browser.cookies.has("sid")).toBe(false);
    expect(await browser.json("/me")).toEqual({ user: null, passport: null });
    const replay = new Browser(url);
    replay.cookies.set("sid", loggedIn);
    expect(await replay.json("/me")).toEqual({ user: null, passport: null });
  });

  it("supports express-session-style property access alongside get/set", async () => {
    const browser = new Browser(url);
    expect(await browser.json("/visit", { method: "POST" })).toEqual({ visits: 1 });
    expect(await browser.json("/visit", { method: "POST" })).toEqual({ visits: 2 });
    expect(await browser.json("/forget", { method: "POST" })).toEqual({ keys: [] });
    expect(await browser.json("/visit", { method: "POST" })).toEqual({ visits: 1 });
  });

  it("holds a streamed response until the commit, keeping the app's own cookies", async () => {
    const browser = new Browser(url);
    const response = await browser.fetch("/stream");
    expect(await response.text()).toBe("one,two,three");
    const names = response.headers.getSetCookie().map((l) => l.split("=")[0]);
    expect(names.sort()).toEqual(["sid", "theme"]);
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(response.headers.get("cache-control")).toBe("no-store");
  });

  it("lets a read-only response through at once, merging Vary into the app's writeHead headers", async () => {
    const browser = new Browser(url);
    await browser.fetch("/visit", { method: "POST" });
    const response = await browser.fetch("/read-stream");
    expect(await response.text()).toBe("visits=1;done");
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(response.headers.get("vary")).toBe("Accept, Cookie");
    expect(response.headers.get("cache-control")).toBe("max-age=60");
    expect(response.headers.get("content-type")).toBe("text/plain");
    // A first visit without a cookie takes the same path: nothing stored, no cookie.
    const visitor = await new Browser(url).fetch("/read-stream");
    expect(await visitor.text()).toBe("visits=null;done");
    expect(visitor.headers.getSetCookie()).toEqual([]);
  });

  it("writes only what changed after save(cb)", async () => {
    const browser = new Browser(url);
    await browser.fetch("/save-then-change", { method: "POST" });
    const session = await t.sessions.load(new Headers({ cookie: `sid=${browser.cookies.get("sid")}` }));
    expect(session.get("step")).toBe(2);
  });

  it("regenerate(cb) deletes the old session and continues with an empty one", async () => {
    const browser = new Browser(url);
    await browser.fetch("/visit", { method: "POST" });
    const old = browser.cookies.get("sid");
    expect(await browser.json("/regenerate", { method: "POST" })).toEqual({ keys: ["fresh"] });
    expect(browser.cookies.get("sid")).not.toBe(old);
    const oldSession = await t.sessions.load(new Headers({ cookie: `sid=${old}` }));
    expect(oldSession.isNew).toBe(true);
  });

  it("reload(cb) drops unsaved changes, and refuses a session that is not stored yet", async () => {
    const fresh = await new Browser(url).fetch("/reload", { method: "POST" });
    expect(fresh.status).toBe(500);
    const browser = new Browser(url);
    await browser.fetch("/visit", { method: "POST" });
    expect(await browser.json("/reload", { method: "POST" })).toEqual({ unsaved: null, visits: 1 });
  });

  it("commits on the error handler's response too", async () => {
    const browser = new Browser(url);
    const response = await browser.fetch("/throws");
    expect(response.status).toBe(500);
    expect(response.headers.getSetCookie()).toHaveLength(1);
  });

  it("refuses to run under another session middleware, and runs once when mounted twice", async () => {
    const outcomes: unknown[] = [];
    const middleware = sessionMiddleware(t.sessions);
    const foreign = { session: { cookie: {} }, headers: {}, socket: {} } as never;
    middleware(foreign, {} as never, (error) => outcomes.push(error));
    expect(outcomes[0]).toMatchObject({ name: "SessionConfigError" });

    const app = express();
    app.use(sessionMiddleware(t.sessions), sessionMiddleware(t.sessions));
    app.get("/", (req, res) => {
      req.session.set("twice", true);
      res.send("ok");
    });
    const server = await listen(createServer(app));
    try {
      const response = await fetch(`${server.url}/`);
      expect(response.status).toBe(200);
      expect(response.headers.getSetCookie()).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("works as plain Connect-style middleware on node:http (no Express)", async () => {
    const middleware = sessionMiddleware(t.sessions);
    const server = await listen(
      createServer((req, res) => {
        middleware(req, res, (error) => {
          if (error) {
            res.statusCode = 500;
            res.end();
            return;
          }
          const session = (req as typeof req & { session: ExpressSession }).session;
          session.set("plain", ((session.get("plain") as number | undefined) ?? 0) + 1);
          res.setHeader("content-type", "text/plain");
          res.end(String(session.get("plain")));
        });
      }),
    );
    try {
      const browser = new Browser(server.url);
      expect(await (await browser.fetch("/")).text()).toBe("1");
      expect(await (await browser.fetch("/")).text()).toBe("2");
    } finally {
      await server.close();
    }
  });

  it("types req.session (checked by tsc; the body only builds types)", () => {
    const check = (typed: ExpressSession<{ cart: string[] }>, untyped: ExpressSession) => {
      expectTypeOf(typed.get("cart")).toEqualTypeOf<string[] | undefined>();
      expectTypeOf(typed.cart).toEqualTypeOf<string[] | undefined>();
      // @ts-expect-error not a declared key
      typed.get("nope");
      expectTypeOf(untyped.get("anything")).toEqualTypeOf<unknown>();
      expectTypeOf(typed.regenerate).toBeFunction();
    };
    expectTypeOf(check).toBeFunction();
    expectTypeOf<Express.Request["session"]>().toEqualTypeOf<ExpressSession>();
  });
});
