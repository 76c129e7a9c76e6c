import { createServer } from "node:http";
import { serve } from "@hono/node-server";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionMiddleware } from "../../src/adapters/express.js";
import { applySessionHeaders } from "../../src/index.js";
import { Browser, listen, makeSessions, type TestSessions } from "./harness.js";

/** The API routes both servers below implement: login, read, add, logout. */
async function apiFlow(url: string, header: "authorization" | "x-session-token") {
  const send = (value: string) => (header === "authorization" ? `Bearer ${value}` : value);
  const read = (response: Response) => {
    const raw = response.headers.get(header);
    return raw === null ? null : header === "authorization" ? raw.replace(/^Bearer /, "") : raw;
  };

  const login = await fetch(`${url}/api/login?user=ada`, { method: "POST" });
  expect(login.status).toBe(200);
  expect(login.headers.getSetCookie()).toEqual([]); // nothing in a cookie
  expect(login.headers.get("cache-control")).toBe("no-store");
  const token = read(login);
  expect(token).toBeTruthy();

  const me = await fetch(`${url}/api/me`, { headers: { [header]: send(token as string) } });
  expect(await me.json()).toEqual({ userId: "ada", items: [] });
  expect(read(me)).toBeNull(); // an unchanged token is not resent

  const add = await fetch(`${url}/api/add?item=pen`, { method: "POST", headers: { [header]: send(token as string) } });
  expect(add.status).toBe(200);
  expect(read(add)).toBeNull();

  // Logging in again rotates: the new token comes back in the same header, the old one dies.
  const again = await fetch(`${url}/api/login?user=ada`, { method: "POST", headers: { [header]: send(token as string) } });
  const rotated = read(again);
  expect(rotated).toBeTruthy();
  expect(rotated).not.toBe(token);
  const stale = await fetch(`${url}/api/me`, { headers: { [header]: send(token as string) } });
  expect(await stale.json()).toEqual({ userId: null, items: [] });
  const fresh = await fetch(`${url}/api/me`, { headers: { [header]: send(rotated as string) } });
  expect(await fresh.json()).toEqual({ userId: "ada", items: ["pen"] });

  const forged = await fetch(`${url}/api/me`, { headers: { [header]: send(`${rotated}x`) } });
  expect(forged.status).toBe(200);
  expect(await forged.json()).toEqual({ userId: null, items: [] });
}

/** API routes ask for the header transport, pages for the cookie (used when a request carries no token). */
const byPath = (req: { url?: string }) => (req.url?.startsWith("/api/") ? "authorization" : "cookie");

function expressApp(t: TestSessions) {
  const app = express();
  app.use(sessionMiddleware(t.sessions, { transport: byPath }));
  app.post(["/api/login", "/login"], async (req, res) => {
    await req.session.login(String(req.query.user));
    res.json({ ok: true });
  });
  app.get(["/api/me", "/me"], (req, res) => {
    res.json({ userId: req.session.userId, items: req.session.get("items") ?? [] });
  });
  app.post(["/api/add", "/add"], (req, res) => {
    req.session.set("items", [...((req.session.get("items") as string[] | undefined) ?? []), String(req.query.item)]);
    res.json({ ok: true });
  });
  return app;
}

describe("header transport through the Express adapter", () => {
  for (const header of ["authorization", "x-session-token"] as const) {
    it(`reads and answers ${header} on an API route, never a cookie`, async () => {
      const t = makeSessions({ transport: { header } });
      const server = await listen(createServer(expressApp(t)));
      try {
        await apiFlow(server.url, header);
      } finally {
        await server.close();
      }
    });
  }

  describe("cookie for browsers and Bearer for API clients on one createSessions", () => {
    let t: TestSessions;
    let server: Awaited<ReturnType<typeof listen>>;
    beforeAll(async () => {
      t = makeSessions({ transport: ["cookie", { header: "authorization" }] });
      server = await listen(createServer(expressApp(t)));
    });
    afterAll(() => server.close());

    it("serves API clients by header", async () => {
      await apiFlow(server.url, "authorization");
    });

    it("serves browsers by cookie, varying on both", async () => {
      const browser = new Browser(server.url);
      const login = await browser.fetch("/login?user=bob", { method: "POST" });
      expect(login.headers.getSetCookie()).toHaveLength(1);
      expect(login.headers.get("authorization")).toBeNull();
      expect(login.headers.get("vary")?.toLowerCase()).toBe("cookie, authorization");
      expect(await browser.json("/me")).toEqual({ userId: "bob", items: [] });
    });

    it("answers a request by the transport its token came in on", async () => {
      const browser = new Browser(server.url);
      await browser.fetch("/login?user=cy", { method: "POST" });
      // A browser cookie sent to an API route still finds its session.
      expect(await browser.json("/api/me")).toEqual({ userId: "cy", items: [] });
    });
  });
});

describe("header transport and lists on the fetch path (request: Request) => Response", () => {
  let t: TestSessions;
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    t = makeSessions({ transport: ["cookie", { header: "authorization" }] });
    async function handler(request: Request): Promise<Response> {
      const path = new URL(request.url).pathname;
      const session = await t.sessions.load(request, { transport: path.startsWith("/api/") ? "authorization" : "cookie" });
      const query = new URL(request.url).searchParams;
      let body: unknown = { ok: true };
      if (path.endsWith("/login")) await session.login(String(query.get("user")));
      else if (path.endsWith("/add"))
        session.set("items", [...((session.get("items") as string[] | undefined) ?? []), String(query.get("item"))]);
      else body = { userId: session.userId, items: session.get("items") ?? [] };
      const response = Response.json(body);
      applySessionHeaders(response.headers, await t.sessions.commit(session));
      return response;
    }
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: handler, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  it("serves API clients by header", async () => {
    await apiFlow(url, "authorization");
  });

  it("serves browsers by cookie", async () => {
    const browser = new Browser(url);
    const login = await browser.fetch("/login?user=dee", { method: "POST" });
    expect(login.headers.getSetCookie()).toHaveLength(1);
    expect(login.headers.get("authorization")).toBeNull();
    expect(await browser.json("/me")).toEqual({ userId: "dee", items: [] });
  });
});
