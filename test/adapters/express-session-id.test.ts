/**
 * `req.sessionID` is a getter on the request's prototype (defined once, not per request): it
 * must still read each request's own session, live, and behave like express-session's plain
 * property where apps write it.
 */
import { createServer, IncomingMessage } from "node:http";
import connect from "connect";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionMiddleware } from "../../src/adapters/express.js";
import { Browser, listen, makeSessions, type TestSessions } from "./harness.js";

describe("req.sessionID", () => {
  let t: TestSessions;
  let url: string;
  let otherUrl: string;
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    t = makeSessions({ cookie: { secure: false } });
    const app = express();
    app.use(sessionMiddleware(t.sessions));
    app.post("/visit", (req, res) => {
      const before = req.sessionID;
      req.session.set("n", ((req.session.get("n") as number) ?? 0) + 1);
      res.json({ before, id: req.session.id, own: Object.hasOwn(req, "sessionID") });
    });
    app.get("/overwrite", (req, res) => {
      (req as { sessionID: string }).sessionID = "set-by-the-app";
      res.json({ id: req.sessionID, own: Object.hasOwn(req, "sessionID") });
    });
    app.post("/regenerate", (req, res, next) => {
      const before = req.sessionID;
      req.session.regenerate((error) => {
        if (error) return next(error);
        req.session.set("fresh", true);
        res.json({ before, after: req.sessionID, id: req.session.id });
      });
    });
    const served = await listen(createServer(app));
    url = served.url;
    closers.push(served.close);
    // Another app in the same process, without sessionkit: no sessionID appears on its requests.
    const other = express();
    other.get("/", (req, res) => res.json({ sessionID: (req as { sessionID?: string }).sessionID ?? null }));
    const second = await listen(createServer(other));
    otherUrl = second.url;
    closers.push(second.close);
  });

  afterAll(async () => {
    for (const close of closers) await close();
    await t.sessions.close();
  });

  it("is each request's own public id, also for many requests at once", async () => {
    const browsers = Array.from({ length: 20 }, () => new Browser(url));
    const first = await Promise.all(browsers.map((b) => b.json("/visit", { method: "POST" })));
    const second = await Promise.all(browsers.map((b) => b.json("/visit", { method: "POST" })));
    for (let i = 0; i < browsers.length; i++) {
      // A new session's id is made on first read, so the getter and session.id agree.
      expect(first[i]?.before).toBe(first[i]?.id);
      expect(second[i]?.before).toBe(first[i]?.id);
      expect(second[i]?.own).toBe(false);
    }
    expect(new Set(first.map((r) => r.id)).size).toBe(browsers.length);
  });

  it("takes a value the app writes, on that request only", async () => {
    const browser = new Browser(url);
    await browser.json("/visit", { method: "POST" });
    expect(await browser.json("/overwrite")).toEqual({ id: "set-by-the-app", own: true });
    const next = await browser.json("/visit", { method: "POST" });
    expect(next.before).toBe(next.id);
  });

  it("follows regenerate() to the new session", async () => {
    const browser = new Browser(url);
    await browser.json("/visit", { method: "POST" });
    const answer = await browser.json("/regenerate", { method: "POST" });
    expect(answer.before).not.toBe(answer.after);
    expect(answer.after).toBe(answer.id);
  });

  it("does not appear on requests of an app without the middleware", async () => {
    expect(await new Browser(otherUrl).json("/")).toEqual({ sessionID: null });
  });

  it("on Connect (requests are plain IncomingMessage) leaves requests without a session alone", async () => {
    const app = connect();
    const seen: unknown[] = [];
    app.use("/with", sessionMiddleware(t.sessions));
    app.use((req: IncomingMessage, res) => {
      seen.push((req as { sessionID?: string }).sessionID);
      res.end("ok");
    });
    const served = await listen(createServer(app));
    try {
      await new Browser(served.url).fetch("/with");
      await new Browser(served.url).fetch("/without");
    } finally {
      await served.close();
    }
    expect(seen[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(seen[1]).toBeUndefined();
    expect(Object.hasOwn(IncomingMessage.prototype, "sessionID")).toBe(true);
  });
});
