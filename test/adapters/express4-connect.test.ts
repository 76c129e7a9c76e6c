/** The same adapter on Express 4 (installed as `express4`) and on Connect. */
import { createServer } from "node:http";
import connect from "connect";
import type { Express } from "express";
import express4 from "express4";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExpressSession, sessionMiddleware } from "../../src/adapters/express.js";
import { runAdapterSuite } from "./adapter.case.js";
import { errorHandler, routes } from "./express-routes.js";
import { Browser, listen, makeSessions, type TestSessions } from "./harness.js";

runAdapterSuite("express 4", async ({ sessions, arrive }) => {
  const app = express4();
  app.use(sessionMiddleware(sessions));
  // Express 4 and 5 share every API these routes use; only the typings' package names differ.
  routes(app as unknown as Express, arrive);
  app.use(errorHandler as unknown as Parameters<typeof app.use>[0]);
  return listen(createServer(app));
});

describe("connect", () => {
  let t: TestSessions;
  let url: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    t = makeSessions({ cookie: { secure: false } });
    const app = connect();
    app.use(sessionMiddleware(t.sessions));
    app.use("/count", (req, res) => {
      const session = (req as unknown as { session: ExpressSession }).session;
      const count = ((session.get("count") as number | undefined) ?? 0) + 1;
      session.set("count", count);
      res.setHeader("content-type", "text/plain");
      res.end(String(count));
    });
    app.use("/login", (req, res) => {
      const session = (req as unknown as { session: ExpressSession }).session;
      session.login("connect-user").then(
        () => res.end(session.id),
        (error: unknown) => res.end(String(error)),
      );
    });
    app.use("/fail", (_req, _res, next) => next(new Error("boom")));
    ({ url, close } = await listen(createServer(app)));
  });
  afterAll(() => close());

  it("creates, reads and rotates a session on plain Connect", async () => {
    const browser = new Browser(url);
    expect(await (await browser.fetch("/count")).text()).toBe("1");
    const first = [...browser.cookies.values()][0];
    expect(await (await browser.fetch("/count")).text()).toBe("2");
    await browser.fetch("/login");
    expect([...browser.cookies.values()][0]).not.toBe(first);
    expect(await (await browser.fetch("/count")).text()).toBe("3");
    expect((await t.sessions.list("connect-user")).length).toBe(1);
  });

  it("a store failure reaches Connect's error handling as a 500; a forged cookie never reaches the store", async () => {
    const real = new Browser(url);
    expect((await real.fetch("/count")).status).toBe(200);
    t.store.failing.add("get");
    try {
      expect((await real.fetch("/count")).status).toBe(500);
      const forged = `sid=${"A".repeat(43)}.${"A".repeat(43)}`;
      expect((await fetch(`${url}/count`, { headers: { cookie: forged } })).status).toBe(200);
    } finally {
      t.store.failing.clear();
    }
  });
});
