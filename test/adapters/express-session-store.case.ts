/**
 * express-session's documented Store semantics, run against the bridge on any sessionkit
 * store: `runExpressSessionStoreSuite(name, open)` from each store's test file. Covers the
 * Store methods (promise and callback forms), refused expiries, one query for all(), and
 * express-session itself over HTTP with a cookie jar: resave, rolling, saveUninitialized,
 * touch, regenerate and destroy.
 */
import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import { createRequire } from "node:module";
import express, { type ErrorRequestHandler } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExpressSessionRecord, expressSessionStore } from "../../src/adapters/express-session.js";
import { rowIdOf } from "../../src/adapters/express-session-record.js";
import type { SessionStore } from "../../src/contract/store.js";
import { Browser, listen, parseSetCookie } from "./harness.js";

// Loaded untyped on purpose: @types/express-session declares its own `req.session` globally,
// which would clash with sessionkit/express's declaration in this one TypeScript program.
type SessionOptions = {
  store: unknown;
  secret: string;
  resave: boolean;
  saveUninitialized: boolean;
  rolling?: boolean;
  cookie?: { maxAge?: number; secure?: boolean };
};
export type ExpressSessionModule = ((options: SessionOptions) => RequestListener) & { Store: new () => object };
export const expressSession = createRequire(import.meta.url)("express-session") as ExpressSessionModule;

interface Legacy {
  views?: number;
  regenerate(cb: (err?: unknown) => void): void;
  destroy(cb: (err?: unknown) => void): void;
}
const legacy = (req: IncomingMessage) => (req as unknown as { session: Legacy }).session;

/** A store that records the operations the bridge makes. */
export function recording(inner: SessionStore) {
  const calls: Array<{ op: string; args: unknown[] }> = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== "string" || typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push({ op: prop, args });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls, ops: () => calls.map((c) => c.op), reset: () => calls.splice(0) };
}

export async function startExpressSessionApp(bridge: unknown, settings: { rolling?: boolean; resave?: boolean } = {}) {
  const app = express();
  app.use(
    expressSession({
      store: bridge,
      secret: "express-session-secret-at-least-32-bytes",
      resave: settings.resave ?? false,
      saveUninitialized: false,
      rolling: settings.rolling ?? false,
      cookie: { maxAge: 60_000, secure: false },
    }) as express.RequestHandler,
  );
  app.get("/read", (req, res) => {
    res.json({ views: legacy(req).views ?? null });
  });
  app.post("/view", (req, res) => {
    const s = legacy(req);
    s.views = (s.views ?? 0) + 1;
    res.json({ views: s.views });
  });
  app.post("/regenerate", (req, res, next) => {
    legacy(req).regenerate((err) => (err ? next(err) : res.json({ views: legacy(req).views ?? null })));
  });
  app.post("/logout", (req, res, next) => {
    legacy(req).destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.use(((error, _req, res, _next) => {
    res.status(500).json({ error: (error as Error).name });
  }) as ErrorRequestHandler);
  return listen(createServer(app));
}

/** The express-session id inside its signed cookie (`s:<sid>.<signature>`). */
export const sidOf = (browser: Browser) => {
  const signed = decodeURIComponent(browser.cookies.get("connect.sid") as string);
  return signed.slice(2, signed.lastIndexOf("."));
};

export interface BridgeTarget {
  /** A fresh store (own table, key prefix or file) and how to release it. */
  open(): Promise<{ store: SessionStore; close(): Promise<void> }>;
}

const writes = (ops: string[]) => ops.filter((op) => !["get", "listByUser", "stats"].includes(op));

export function runExpressSessionStoreSuite(name: string, target: BridgeTarget) {
  describe(`express-session bridge on ${name}`, () => {
    let opened: Awaited<ReturnType<BridgeTarget["open"]>>;
    beforeAll(async () => {
      opened = await target.open();
    });
    afterAll(async () => {
      await opened.close();
    });

    const cookie = (expires: number) => ({ cookie: { expires: new Date(expires).toISOString(), originalMaxAge: 1000 } });
    const withN = (expires: number, n: number) => ({ ...cookie(expires), n }) as ExpressSessionRecord;

    it("get / set / touch / destroy / all / length / clear as promises, scoped to the namespace", async () => {
      const clock = { now: Date.now() };
      const store = expressSessionStore(opened.store, { clock: () => clock.now, namespace: `ns-a-${clock.now}` });
      const other = expressSessionStore(opened.store, { clock: () => clock.now, namespace: `ns-b-${clock.now}` });
      await store.set("a", withN(clock.now + 5000, 1));
      await store.set("b", withN(clock.now + 5000, 2));
      await other.set("c", withN(clock.now + 60_000, 3));
      expect(await store.length()).toBe(2);
      expect((await store.all<ExpressSessionRecord & { n: number }>()).map((s) => s.n).sort()).toEqual([1, 2]);
      expect(await store.get("a")).toMatchObject({ n: 1 });
      expect(await store.get("missing")).toBeNull();

      await store.set("a", withN(clock.now + 5000, 10)); // overwrite
      expect(await store.get("a")).toMatchObject({ n: 10 });

      clock.now += 4000;
      await store.touch("a", cookie(clock.now + 5000));
      clock.now += 3000; // past b's expiry, not a's touched one
      expect(await store.get("a")).toMatchObject({ n: 10 });
      expect(await store.get("b")).toBeNull();
      expect(await store.length()).toBe(1);

      // An expired row not yet pruned does not block a new session under the same id.
      await store.set("b", withN(clock.now + 5000, 20));
      expect(await store.get("b")).toMatchObject({ n: 20 });

      await store.destroy("a");
      expect(await store.get("a")).toBeNull();
      await store.clear();
      expect(await store.length()).toBe(0);
      expect(await other.length()).toBe(1);
      await other.clear();
    });

    it("the same methods with callbacks (express-session's own calling convention)", async () => {
      const store = expressSessionStore(opened.store, { namespace: `ns-cb-${Date.now()}` });
      const call = <T>(run: (cb: (err: unknown, value?: T) => void) => unknown) =>
        new Promise<T | undefined>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
      await call((cb) => store.set("x", withN(Date.now() + 60_000, 7), cb));
      expect(await call((cb) => store.get("x", cb))).toMatchObject({ n: 7 });
      expect(await call((cb) => store.length(cb))).toBe(1);
      expect(await call((cb) => store.all(cb))).toHaveLength(1);
      await call((cb) => store.touch("x", cookie(Date.now() + 90_000), cb));
      await call((cb) => store.destroy("x", cb));
      expect(await call((cb) => store.get("x", cb))).toBeNull();
      await call((cb) => store.clear(cb));
    });

    it("refuses an expiry that is not a time before writing anything", async () => {
      const rec = recording(opened.store);
      const store = expressSessionStore(rec.store, { namespace: `ns-bad-${Date.now()}` });
      const bad: ExpressSessionRecord[] = [
        { cookie: { expires: new Date(Number.NaN) } },
        { cookie: { expires: "not a date" } },
        { cookie: { maxAge: Number.POSITIVE_INFINITY } },
        { cookie: { maxAge: Number.NaN } },
      ];
      for (const session of bad) {
        await expect(store.set("bad", session)).rejects.toThrow(/nothing was written/);
        await expect(store.touch("bad", session)).rejects.toThrow(/nothing was written/);
      }
      expect(writes(rec.ops())).toEqual([]);
      expect(await store.get("bad")).toBeNull();
    });

    it("all() is one store query, whatever the number of sessions", async () => {
      const rec = recording(opened.store);
      const store = expressSessionStore(rec.store, { namespace: `ns-all-${Date.now()}`, secrets: [SECRET_A] });
      for (let i = 0; i < 20; i++) await store.set(`s${i}`, withN(Date.now() + 60_000, i));
      rec.reset();
      expect(await store.all()).toHaveLength(20);
      expect(rec.ops()).toEqual(["listByUser"]);
      rec.reset();
      expect(await store.length()).toBe(20);
      expect(rec.ops()).toEqual(["listByUser"]);
      await store.clear();
      expect(rec.ops()).toEqual(["listByUser", "deleteByUser"]);
    });

    describe("under express-session (resave: false, saveUninitialized: false)", () => {
      const rec = { current: null as ReturnType<typeof recording> | null };
      let server: Awaited<ReturnType<typeof listen>>;
      beforeAll(async () => {
        rec.current = recording(opened.store);
        server = await startExpressSessionApp(expressSessionStore(rec.current.store, { namespace: `ns-http-${Date.now()}` }));
      });
      afterAll(() => server.close());
      const r = () => rec.current as ReturnType<typeof recording>;

      it("stores nothing and sets no cookie for an untouched session", async () => {
        r().reset();
        const response = await new Browser(server.url).fetch("/read");
        expect(response.headers.getSetCookie()).toEqual([]);
        expect(writes(r().ops())).toEqual([]);
      });

      it("stores a modified session, expiring with its cookie; touches (no data write) an unmodified one", async () => {
        const browser = new Browser(server.url);
        const before = Date.now();
        expect(await browser.json("/view", { method: "POST" })).toEqual({ views: 1 });
        const row = await opened.store.get(rowIdOf(sidOf(browser)), Date.now());
        expect(row?.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
        expect(row?.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
        expect(await browser.json("/view", { method: "POST" })).toEqual({ views: 2 });

        r().reset();
        const read = await browser.fetch("/read");
        expect(await read.json()).toEqual({ views: 2 });
        expect(read.headers.getSetCookie()).toEqual([]);
        expect(r().ops()).toEqual(["get", "touch"]);
      });

      it("regenerate deletes the old row; destroy deletes the session", async () => {
        const browser = new Browser(server.url);
        await browser.json("/view", { method: "POST" });
        const oldId = rowIdOf(sidOf(browser));
        expect(await browser.json("/regenerate", { method: "POST" })).toEqual({ views: null });
        expect(await opened.store.get(oldId, Date.now())).toBeNull();
        await browser.json("/view", { method: "POST" });
        const id = rowIdOf(sidOf(browser));
        expect(await opened.store.get(id, Date.now())).not.toBeNull();
        await browser.fetch("/logout", { method: "POST" });
        expect(await opened.store.get(id, Date.now())).toBeNull();
        expect(await browser.json("/read")).toEqual({ views: null });
      });
    });

    it("rolling: true resends the cookie on every response and slides the stored expiry with it", async () => {
      const rec = recording(opened.store);
      const server = await startExpressSessionApp(expressSessionStore(rec.store, { namespace: `ns-roll-${Date.now()}` }), {
        rolling: true,
      });
      try {
        const browser = new Browser(server.url);
        expect((await browser.fetch("/read")).headers.getSetCookie()).toEqual([]); // saveUninitialized: false wins
        // The body too: express-session holds its last byte back until the save is done.
        await browser.json("/view", { method: "POST" });
        rec.reset();
        const response = await browser.fetch("/read");
        const line = parseSetCookie(response.headers.getSetCookie()[0] as string);
        expect(line.name).toBe("connect.sid");
        expect(rec.ops()).toEqual(["get", "touch"]);
        const expiry = (rec.calls[1]?.args ?? [])[3] as number;
        expect(Math.floor(expiry / 1000) * 1000).toBe(new Date(line.attributes.get("expires") as string).getTime());
        expect((await opened.store.get(rowIdOf(sidOf(browser)), Date.now()))?.expiresAt).toBe(expiry);
      } finally {
        await server.close();
      }
    });

    it("resave: true writes the session back on every request, unchanged", async () => {
      const rec = recording(opened.store);
      const server = await startExpressSessionApp(expressSessionStore(rec.store, { namespace: `ns-resave-${Date.now()}` }), {
        resave: true,
      });
      try {
        const browser = new Browser(server.url);
        await browser.json("/view", { method: "POST" });
        rec.reset();
        expect(await browser.json("/read")).toEqual({ views: 1 });
        expect(rec.ops()).toEqual(["get", "get", "update"]);
        expect(await browser.json("/read")).toEqual({ views: 1 });
      } finally {
        await server.close();
      }
    });
  });
}

export const SECRET_A = "bridge-secret-0123456789abcdef0123456789abcdef";
