/**
 * sessionkit/fastify as a drop-in for @fastify/session: @fastify/passport's local strategy and
 * code written against @fastify/session's API, driven over real HTTP with a cookie jar.
 */
import fastifyPassport from "@fastify/passport";
import Fastify, { type FastifyInstance } from "fastify";
import { Strategy as LocalStrategy } from "passport-local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionPlugin } from "../../src/adapters/fastify.js";
import { Browser, makeSessions, parseSetCookie, type TestSessions } from "./harness.js";

const DAY = 86_400_000;
type User = { id: string; username: string; password: string };
const users = new Map<string, User>([["ada", { id: "u1", username: "ada", password: "lovelace" }]]);

const json = (body: Record<string, unknown>) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});
const sidLine = (response: Response) =>
  response.headers
    .getSetCookie()
    .map(parseSetCookie)
    .find((c) => c.name === "sid");

describe("@fastify/session compatibility (@fastify/passport 4)", () => {
  let t: TestSessions;
  let app: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    t = makeSessions({ cookie: { secure: false }, idleTimeout: "1h", absoluteTimeout: "90d", maxIdleTimeout: "30d" });
    app = Fastify();
    const passport = new fastifyPassport.Authenticator();
    await app.register(sessionPlugin, { sessions: t.sessions });
    await app.register(passport.initialize());
    await app.register(passport.secureSession());
    passport.use(
      "local",
      new LocalStrategy((username, password, done) => {
        const user = users.get(username);
        done(null, user && user.password === password ? user : false);
      }),
    );
    passport.registerUserSerializer(async (user: User) => user.id);
    passport.registerUserDeserializer(async (id: string) => [...users.values()].find((u) => u.id === id) ?? null);

    app.post(
      "/login",
      { preValidation: passport.authenticate("local", { successRedirect: "/me", failureRedirect: "/denied" }) },
      () => {}, // as @fastify/passport's README writes it
    );
    app.post(
      "/login-keep",
      {
        preValidation: passport.authenticate("local", {
          successRedirect: "/me",
          failureRedirect: "/denied",
          keepSessionInfo: true,
        }),
      },
      // An async handler runs too (the hook redirected without returning reply): a second send
      // that races the first one's commit. The response must still carry the session cookie.
      async () => "unreachable",
    );
    app.post("/logout", async (request, reply) => {
      await request.logout();
      return reply.redirect("/me");
    });
    app.get("/me", async (request) => ({
      user: (request.user as User | undefined)?.username ?? null,
      sessionId: request.session.sessionId,
      cart: request.session.get("cart") ?? null,
      visits: request.session.visits ?? null,
    }));
    app.post("/cart", async (request) => {
      const item = (request.query as { item: string }).item;
      request.session.set("cart", [...((request.session.get("cart") as string[] | undefined) ?? []), item]);
      return { cart: request.session.get("cart") };
    });
    // Property access as @fastify/session allows it.
    app.post("/visit", async (request) => {
      request.session.visits = ((request.session.visits as number | undefined) ?? 0) + 1;
      return { visits: request.session.visits, keys: Object.keys(request.session) };
    });
    app.post("/remember", async (request) => {
      request.session.set("r", 1);
      const { days } = request.body as { days: number | null };
      if (days === null) request.session.cookie.maxAge = null;
      else request.session.options({ maxAge: days * DAY });
      return { maxAge: request.session.cookie.maxAge };
    });
    app.post("/regenerate", async (request) => {
      const before = request.session.sessionId;
      await request.session.regenerate(["cart"]);
      return { changed: request.session.sessionId !== before, keys: Object.keys(request.session) };
    });
    app.post("/regenerate-cb", (request, reply) => {
      request.session.regenerate((error) => {
        if (error) return reply.send(error);
        reply.send({ keys: Object.keys(request.session) });
      });
    });
    app.post("/destroy", async (request) => {
      await request.session.destroy();
      return { session: request.session };
    });
    app.post("/save-reload", async (request) => {
      request.session.set("saved", true);
      await request.session.save();
      request.session.set("unsaved", true);
      await request.session.reload();
      request.session.touch();
      return { saved: request.session.get("saved"), unsaved: request.session.get("unsaved") ?? null };
    });
    app.post("/save-cb", (request, reply) => {
      request.session.set("cb", true);
      request.session.save((error) => reply.send({ error: error ?? null }));
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await app.close();
  });

  it("@fastify/passport's local strategy logs in (new token, old one dead) and out", async () => {
    const browser = new Browser(url);
    await browser.fetch("/cart?item=apple", { method: "POST" });
    const anonymous = browser.cookies.get("sid") as string;

    const denied = await browser.fetch("/login", json({ username: "ada", password: "wrong" }));
    expect(denied.headers.get("location")).toBe("/denied");

    const login = await browser.fetch("/login", json({ username: "ada", password: "lovelace" }));
    expect(login.status).toBe(302);
    expect(login.headers.get("location")).toBe("/me");
    expect(browser.cookies.get("sid")).not.toBe(anonymous);
    // clearSessionOnLogin (the default) starts the signed-in session empty.
    expect(await browser.json("/me")).toMatchObject({ user: "ada", cart: null });

    const fixated = new Browser(url);
    fixated.cookies.set("sid", anonymous);
    expect(await fixated.json("/me")).toMatchObject({ user: null });

    const signedIn = browser.cookies.get("sid") as string;
    const logout = await browser.fetch("/logout", { method: "POST" });
    expect(logout.headers.get("location")).toBe("/me");
    expect(await browser.json("/me")).toMatchObject({ user: null });
    const replay = new Browser(url);
    replay.cookies.set("sid", signedIn);
    expect(await replay.json("/me")).toMatchObject({ user: null });
  });

  it("keepSessionInfo keeps the visitor's data through the login", async () => {
    const browser = new Browser(url);
    await browser.fetch("/cart?item=pear", { method: "POST" });
    await browser.fetch("/login-keep", json({ username: "ada", password: "lovelace" }));
    expect(await browser.json("/me")).toMatchObject({ user: "ada", cart: ["pear"] });
  });

  it("data keys read and write as properties; sessionId is the public id", async () => {
    const browser = new Browser(url);
    expect(await browser.json("/visit", { method: "POST" })).toEqual({ visits: 1, keys: ["visits"] });
    expect(await browser.json("/visit", { method: "POST" })).toEqual({ visits: 2, keys: ["visits"] });
    const me = await browser.json("/me");
    expect(me.sessionId).toMatch(/^[0-9a-f]{32}$/);
    const stored = await t.sessions.load(new Headers({ cookie: `sid=${browser.cookies.get("sid")}` }));
    expect(stored.id).toBe(me.sessionId);
  });

  it("cookie.maxAge / options({ maxAge }) set the session's lifetime; null gives a browser-session cookie", async () => {
    const long = await new Browser(url).fetch("/remember", json({ days: 30 }));
    expect(await long.json()).toEqual({ maxAge: 30 * DAY });
    expect(sidLine(long)?.attributes.get("max-age")).toBe(String((30 * DAY) / 1000));
    const brief = await new Browser(url).fetch("/remember", json({ days: null }));
    expect(await brief.json()).toEqual({ maxAge: null });
    expect(sidLine(brief)?.attributes.has("max-age")).toBe(false);
  });

  it("regenerate(keys) and regenerate(cb) start a new session, keeping only the listed keys", async () => {
    const browser = new Browser(url);
    await browser.fetch("/cart?item=fig", { method: "POST" });
    await browser.fetch("/visit", { method: "POST" });
    const old = browser.cookies.get("sid") as string;
    expect(await browser.json("/regenerate", { method: "POST" })).toEqual({ changed: true, keys: ["cart"] });
    expect(browser.cookies.get("sid")).not.toBe(old);
    expect(await browser.json("/me")).toMatchObject({ cart: ["fig"], visits: null });
    expect((await t.sessions.load(new Headers({ cookie: `sid=${old}` }))).isNew).toBe(true);
    expect(await browser.json("/regenerate-cb", { method: "POST" })).toEqual({ keys: [] });
  });

  it("await destroy() deletes the session now, sets request.session to null and clears the cookie", async () => {
    const browser = new Browser(url);
    await browser.fetch("/visit", { method: "POST" });
    const cookie = browser.cookies.get("sid") as string;
    const response = await browser.fetch("/destroy", { method: "POST" });
    expect(await response.json()).toEqual({ session: null });
    expect(sidLine(response)?.attributes.get("max-age")).toBe("0");
    expect((await t.sessions.load(new Headers({ cookie: `sid=${cookie}` }))).isNew).toBe(true);
  });

  it("save() commits now, reload() drops unsaved changes, save(cb) calls back", async () => {
    const browser = new Browser(url);
    expect(await browser.json("/save-reload", { method: "POST" })).toEqual({ saved: true, unsaved: null });
    expect(await browser.json("/save-cb", { method: "POST" })).toEqual({ error: null });
    const stored = await t.sessions.load(new Headers({ cookie: `sid=${browser.cookies.get("sid")}` }));
    expect(stored.get("saved")).toBe(true);
    expect(stored.get("cb")).toBe(true);
  });
});
