import { createServer } from "node:http";
import Koa from "koa";
import { expect, expectTypeOf, it } from "vitest";
import { csrfProtection, sessionMiddleware } from "../../src/adapters/koa.js";
import type { Session } from "../../src/core/session.js";
import { createSessions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { runAdapterSuite } from "./adapter.case.js";
import { listen, makeSessions, SECRET } from "./harness.js";

runAdapterSuite("koa", async ({ sessions, arrive }) => {
  const app = new Koa().use(sessionMiddleware(sessions));
  const protect = csrfProtection();
  app.use(async (ctx, next) => {
    const session = ctx.session;
    const query = ctx.query as Record<string, string | undefined>;
    const route = `${ctx.method} ${ctx.path}`;
    if (route === "GET /read") {
      ctx.body = { cart: session.get("cart") ?? null, userId: session.userId, id: session.id, isNew: session.isNew };
    } else if (route === "POST /add") {
      const cart = [...((session.get("cart") as string[] | undefined) ?? []), String(query.item)];
      session.set("cart", cart);
      ctx.body = { cart };
    } else if (route === "POST /set") {
      if (query.sync) await arrive();
      session.set(String(query.key), String(query.value));
      ctx.body = { ok: true };
    } else if (route === "GET /get") {
      ctx.body = { value: session.get(String(query.key)) ?? null };
    } else if (route === "POST /login") {
      await session.login(String(query.user));
      ctx.body = { id: session.id };
    } else if (route === "POST /logout") {
      session.destroy();
      ctx.body = { ok: true };
    } else if (route === "GET /csrf") {
      ctx.body = { token: session.csrfToken() };
    } else if (route === "POST /protected") {
      await protect(ctx, async () => {
        ctx.body = "ok";
      });
    } else if (route === "GET /redirect") {
      session.set("redirected", true);
      ctx.redirect("/read");
    } else if (route === "GET /cached") {
      session.set("cachedVisit", true);
      ctx.set("cache-control", "private, max-age=60");
      ctx.body = "cached";
    } else await next();
  });
  app.silent = true;
  return listen(createServer(app.callback()));
});

it("commits when downstream throws and keeps the session headers on Koa's error response", async () => {
  const { sessions } = makeSessions();
  const app = new Koa().use(sessionMiddleware(sessions));
  app.silent = true;
  app.use((ctx) => {
    ctx.session.set("beforeError", true);
    ctx.throw(409, "conflict");
  });
  const server = await listen(createServer(app.callback()));
  try {
    const response = await fetch(`${server.url}/`);
    expect(response.status).toBe(409);
    const cookie = response.headers.getSetCookie()[0] as string;
    expect(cookie).toMatch(/^__Host-sid=/);
    const session = await sessions.load(new Headers({ cookie: cookie.split(";")[0] as string }));
    expect(session.get("beforeError")).toBe(true);
  } finally {
    await server.close();
  }
});

it("types ctx.session (checked by tsc)", () => {
  const sessions = createSessions<{ cart: string[] }>({ store: memoryStore(), secrets: [SECRET] });
  const app = new Koa().use(sessionMiddleware(sessions));
  app.use((ctx) => {
    expectTypeOf(ctx.session).toEqualTypeOf<Session<{ cart: string[] }>>();
  });
  expectTypeOf(app).not.toBeAny();
});
