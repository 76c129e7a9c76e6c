import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { expect, expectTypeOf, it } from "vitest";
import { csrfProtection, type SessionEnv, sessionMiddleware } from "../../src/adapters/hono.js";
import type { Session } from "../../src/core/session.js";
import { runAdapterSuite } from "./adapter.case.js";
import { makeSessions } from "./harness.js";

runAdapterSuite("hono (@hono/node-server)", async ({ sessions, arrive }) => {
  const app = new Hono<SessionEnv>();
  app.use(sessionMiddleware(sessions));
  app.get("/read", (c) => {
    const session = c.get("session");
    return c.json({ cart: session.get("cart") ?? null, userId: session.userId, id: session.id, isNew: session.isNew });
  });
  app.post("/add", (c) => {
    const session = c.get("session");
    const cart = [...((session.get("cart") as string[] | undefined) ?? []), String(c.req.query("item"))];
    session.set("cart", cart);
    return c.json({ cart });
  });
  app.post("/set", async (c) => {
    if (c.req.query("sync")) await arrive();
    c.get("session").set(String(c.req.query("key")), c.req.query("value"));
    return c.json({ ok: true });
  });
  app.get("/get", (c) => c.json({ value: c.get("session").get(String(c.req.query("key"))) ?? null }));
  app.post("/login", async (c) => {
    await c.get("session").login(String(c.req.query("user")));
    return c.json({ id: c.get("session").id });
  });
  app.post("/logout", (c) => {
    c.get("session").destroy();
    return c.json({ ok: true });
  });
  app.get("/csrf", (c) => c.json({ token: c.get("session").csrfToken() }));
  app.post("/protected", csrfProtection(), (c) => c.text("ok"));
  app.get("/redirect", (c) => {
    c.get("session").set("redirected", true);
    return c.redirect("/read");
  });
  app.get("/cached", (c) => {
    c.get("session").set("cachedVisit", true);
    c.header("cache-control", "private, max-age=60");
    return c.text("cached");
  });
  app.onError((_error, c) => c.text("store failure", 500));

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
});

it("types c.get('session') through Hono's Variables (checked by tsc)", () => {
  const app = new Hono<SessionEnv<{ cart: string[] }>>();
  app.get("/", (c) => {
    expectTypeOf(c.get("session")).toEqualTypeOf<Session<{ cart: string[] }>>();
    expectTypeOf(c.get("session").get("cart")).toEqualTypeOf<string[] | undefined>();
    return c.text("ok");
  });
  expectTypeOf(app).not.toBeAny();
});

it("commits on the response app.onError produced", async () => {
  const { sessions } = makeSessions();
  const app = new Hono<SessionEnv>();
  app.use(sessionMiddleware(sessions));
  app.get("/", (c) => {
    c.get("session").set("beforeError", true);
    throw new Error("boom");
  });
  app.onError((_error, c) => c.text("failed", 500));
  const response = await app.request("/");
  expect(response.status).toBe(500);
  const cookie = (response.headers.getSetCookie()[0] as string).split(";")[0] as string;
  const session = await sessions.load(new Headers({ cookie }));
  expect(session.get("beforeError")).toBe(true);
});

it("reads the CSRF token from the _csrf field of a form body", async () => {
  const { sessions } = makeSessions();
  const app = new Hono<SessionEnv>();
  app.use(sessionMiddleware(sessions));
  app.get("/csrf", (c) => c.json({ token: c.get("session").csrfToken() }));
  app.post("/protected", csrfProtection(), async (c) => c.text(`ok ${(await c.req.parseBody()).note}`));
  const first = await app.request("/csrf");
  const cookie = (first.headers.getSetCookie()[0] as string).split(";")[0] as string;
  const { token } = (await first.json()) as { token: string };
  const post = (fields: Record<string, string>) =>
    app.request("/protected", {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
  expect((await post({ _csrf: "wrong", note: "x" })).status).toBe(403);
  const ok = await post({ _csrf: token, note: "kept" });
  expect(ok.status).toBe(200);
  expect(await ok.text()).toBe("ok kept"); // the handler can still read the body
});
