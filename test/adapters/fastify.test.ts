import Fastify, { type FastifyRequest } from "fastify";
import { expect, expectTypeOf, it } from "vitest";
import { type AppSessionData, csrfProtection, type FastifySession, sessionPlugin } from "../../src/adapters/fastify.js";
import { runAdapterSuite } from "./adapter.case.js";
import { makeSessions } from "./harness.js";

type Query = Record<string, string | undefined>;

runAdapterSuite("fastify", async ({ sessions, arrive }) => {
  const app = Fastify();
  await app.register(sessionPlugin, { sessions });
  app.get("/read", async (request) => ({
    cart: request.session.get("cart") ?? null,
    userId: request.session.userId,
    id: request.session.id,
    isNew: request.session.isNew,
  }));
  app.post("/add", async (request) => {
    const cart = [...((request.session.get("cart") as string[] | undefined) ?? []), String((request.query as Query).item)];
    request.session.set("cart", cart);
    return { cart };
  });
  app.post("/set", async (request) => {
    const query = request.query as Query;
    if (query.sync) await arrive();
    request.session.set(String(query.key), String(query.value));
    return { ok: true };
  });
  app.get("/get", async (request) => ({ value: request.session.get(String((request.query as Query).key)) }));
  app.post("/login", async (request) => {
    await request.session.login(String((request.query as Query).user));
    return { id: request.session.id };
  });
  app.post("/logout", async (request) => {
    request.session.destroy();
    return { ok: true };
  });
  app.get("/csrf", async (request) => ({ token: request.session.csrfToken() }));
  app.post("/protected", { preHandler: csrfProtection() }, async (_request, reply) => reply.type("text/plain").send("ok"));
  app.get("/redirect", async (request, reply) => {
    request.session.set("redirected", true);
    return reply.redirect("/read");
  });
  app.get("/cached", async (request, reply) => {
    request.session.set("cachedVisit", true);
    return reply.header("cache-control", "private, max-age=60").send("cached");
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
});

it("types request.session through module augmentation (checked by tsc)", () => {
  const check = (request: FastifyRequest) => {
    expectTypeOf(request.session).toEqualTypeOf<FastifySession<AppSessionData>>();
    expectTypeOf(request.session.get("anything")).toEqualTypeOf<unknown>();
  };
  expectTypeOf(check).toBeFunction();
});

it("reads the CSRF token from the _csrf field of a parsed JSON body", async () => {
  const { sessions } = makeSessions();
  const app = Fastify();
  await app.register(sessionPlugin, { sessions });
  app.get("/csrf", async (request) => ({ token: request.session.csrfToken() }));
  app.post("/protected", { preHandler: csrfProtection() }, async () => "ok");
  const first = await app.inject({ method: "GET", url: "/csrf" });
  const cookie = String(first.headers["set-cookie"]).split(";")[0] as string;
  const { token } = first.json() as { token: string };
  const post = (body: object) =>
    app.inject({ method: "POST", url: "/protected", headers: { cookie, "content-type": "application/json" }, payload: body });
  expect((await post({ _csrf: "wrong" })).statusCode).toBe(403);
  expect((await post({ _csrf: token })).statusCode).toBe(200);
  await app.close();
});
