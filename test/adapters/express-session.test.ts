import { createServer, type IncomingMessage, type RequestListener } from "node:http";
import { createRequire } from "node:module";
import express, { type ErrorRequestHandler } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExpressSessionRecord, expressSessionStore } from "../../src/adapters/express-session.js";
import type { SessionStore } from "../../src/contract/store.js";
import { hashToken } from "../../src/crypto/token.js";
import { memoryStore } from "../../src/stores/memory.js";
import { Browser, failingStore, listen, parseSetCookie } from "./harness.js";

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
type ExpressSessionModule = ((options: SessionOptions) => RequestListener) & { Store: new () => object };
const session = createRequire(import.meta.url)("express-session") as ExpressSessionModule;

interface Legacy {
  views?: number;
  regenerate(cb: (err?: unknown) => void): void;
  destroy(cb: (err?: unknown) => void): void;
}
const legacy = (req: IncomingMessage) => (req as unknown as { session: Legacy }).session;

/** A store that records the calls the bridge makes. */
function recording(inner: SessionStore) {
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
  return { store, calls, ops: () => calls.map((c) => c.op) };
}

async function startApp(store: SessionStore, rolling: boolean) {
  const app = express();
  app.use(
    session({
      store: expressSessionStore(store),
      secret: "express-session-secret-at-least-32-bytes",
      resave: false,
      saveUninitialized: false,
      rolling,
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

const sidOf = (browser: Browser) => {
  const signed = decodeURIComponent(browser.cookies.get("connect.sid") as string); // s:<sid>.<signature>
  return signed.slice(2, signed.lastIndexOf("."));
};

describe("expressSessionStore under express-session (resave: false, saveUninitialized: false)", () => {
  const rec = recording(memoryStore());
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    server = await startApp(rec.store, false);
  });
  afterAll(() => server.close());

  it("stores nothing and sets no cookie for an untouched session", async () => {
    const browser = new Browser(server.url);
    const response = await browser.fetch("/read");
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(rec.ops().filter((op) => op !== "get")).toEqual([]);
  });

  it("stores a modified session under SHA-256 of its id, expiring with its cookie", async () => {
    const browser = new Browser(server.url);
    const before = Date.now();
    expect(await browser.json("/view", { method: "POST" })).toEqual({ views: 1 });
    const after = Date.now();
    const id = hashToken(sidOf(browser));
    const row = await rec.store.get(id, Date.now());
    expect(row).not.toBeNull();
    expect(row?.userId).toBe("express-session");
    expect(JSON.parse(new TextDecoder().decode(row?.data))).toMatchObject({ views: 1, cookie: { originalMaxAge: 60_000 } });
    expect(row?.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(row?.expiresAt).toBeLessThanOrEqual(after + 60_000);
    expect(await browser.json("/view", { method: "POST" })).toEqual({ views: 2 });
    expect(await browser.json("/read")).toEqual({ views: 2 });
  });

  it("touches (expiry only, no data write) an unmodified session, without a new cookie", async () => {
    const browser = new Browser(server.url);
    await browser.fetch("/view", { method: "POST" });
    rec.calls.length = 0;
    const before = Date.now();
    const response = await browser.fetch("/read");
    const after = Date.now();
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(rec.ops()).toEqual(["get", "touch"]);
    const [id, lastActive, expiry] = (rec.calls[1] as { args: unknown[] }).args as [string, number, number];
    expect(id).toBe(hashToken(sidOf(browser)));
    expect(lastActive).toBeGreaterThanOrEqual(before);
    expect(expiry).toBeGreaterThanOrEqual(before + 60_000);
    expect(expiry).toBeLessThanOrEqual(after + 60_000);
  });

  it("regenerate deletes the old row; destroy deletes the session", async () => {
    const browser = new Browser(server.url);
    await browser.fetch("/view", { method: "POST" });
    const oldId = hashToken(sidOf(browser));
    expect(await browser.json("/regenerate", { method: "POST" })).toEqual({ views: null });
    expect(await rec.store.get(oldId, Date.now())).toBeNull();
    await browser.fetch("/view", { method: "POST" });
    const id = hashToken(sidOf(browser));
    expect(await rec.store.get(id, Date.now())).not.toBeNull();
    await browser.fetch("/logout", { method: "POST" });
    expect(await rec.store.get(id, Date.now())).toBeNull();
  });
});

describe("expressSessionStore under express-session with rolling: true", () => {
  const rec = recording(memoryStore());
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    server = await startApp(rec.store, true);
  });
  afterAll(() => server.close());

  it("resends the cookie on every response and slides the stored expiry with it", async () => {
    const browser = new Browser(server.url);
    const untouched = await browser.fetch("/read");
    expect(untouched.headers.getSetCookie()).toEqual([]); // saveUninitialized: false still wins
    await browser.fetch("/view", { method: "POST" });
    rec.calls.length = 0;
    const response = await browser.fetch("/read");
    const cookie = parseSetCookie(response.headers.getSetCookie()[0] as string);
    expect(cookie.name).toBe("connect.sid");
    expect(rec.ops()).toEqual(["get", "touch"]);
    const expiry = ((rec.calls[1] as { args: unknown[] }).args as [string, number, number])[2];
    const cookieExpiry = new Date(cookie.attributes.get("expires") as string).getTime();
    expect(Math.floor(expiry / 1000) * 1000).toBe(cookieExpiry); // Expires has second precision
    const row = await rec.store.get(hashToken(sidOf(browser)), Date.now());
    expect(row?.expiresAt).toBe(expiry);
    expect(await browser.json("/read")).toEqual({ views: 1 });
  });
});

describe("expressSessionStore Store API", () => {
  const call = <T>(run: (cb: (err: unknown, value?: T) => void) => void) =>
    new Promise<T | undefined>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
  const cookie = (expires: number) => ({ cookie: { expires: new Date(expires).toISOString(), originalMaxAge: 1000 } });
  const withN = (expires: number, n: number): ExpressSessionRecord => ({ ...cookie(expires), n }) as ExpressSessionRecord;

  it("implements get, set, destroy, touch, all, length and clear, scoped to its namespace", async () => {
    const clock = { now: 1_000_000 };
    const inner = memoryStore();
    const store = expressSessionStore(inner, { clock: () => clock.now });
    const other = expressSessionStore(inner, { namespace: "other-app", clock: () => clock.now });
    await call((cb) => store.set("a", withN(clock.now + 5000, 1), cb));
    await call((cb) => store.set("b", withN(clock.now + 5000, 2), cb));
    await call((cb) => other.set("c", withN(clock.now + 60_000, 3), cb));
    expect(await call<number>((cb) => store.length(cb))).toBe(2);
    const all = await call<Array<{ n: number }>>((cb) => store.all(cb as never));
    expect(all?.map((s) => s.n).sort()).toEqual([1, 2]);
    expect(await call((cb) => store.get("a", cb))).toMatchObject({ n: 1 });
    expect(await call((cb) => store.get("missing", cb))).toBeNull();

    await call((cb) => store.set("a", withN(clock.now + 5000, 10), cb)); // overwrite
    expect(await call((cb) => store.get("a", cb))).toMatchObject({ n: 10 });

    clock.now += 4000;
    await call((cb) => store.touch("a", cookie(clock.now + 5000), cb));
    clock.now += 3000; // past b's expiry, not a's touched one
    expect(await call((cb) => store.get("a", cb))).toMatchObject({ n: 10 });
    expect(await call((cb) => store.get("b", cb))).toBeNull();
    expect(await call<number>((cb) => store.length(cb))).toBe(1);

    // An expired row not yet pruned does not block a new session under the same id.
    await call((cb) => store.set("b", withN(clock.now + 5000, 20), cb));
    expect(await call((cb) => store.get("b", cb))).toMatchObject({ n: 20 });

    await call((cb) => store.destroy("a", cb));
    expect(await call((cb) => store.get("a", cb))).toBeNull();
    await call((cb) => store.clear(cb));
    expect(await call<number>((cb) => store.length(cb))).toBe(0);
    expect(await call<number>((cb) => other.length(cb))).toBe(1);
  });

  it("uses ttl for a browser-session cookie and is an express-session Store", async () => {
    const clock = { now: 5_000_000 };
    const inner = memoryStore();
    const store = expressSessionStore(inner, { clock: () => clock.now, ttl: "10s" });
    expect(store).toBeInstanceOf(session.Store);
    await call((cb) => store.set("x", { cookie: { expires: null, originalMaxAge: null }, n: 1 } as ExpressSessionRecord, cb));
    expect((await inner.get(hashToken("x"), clock.now))?.expiresAt).toBe(clock.now + 10_000);
  });

  it("passes store failures to the callback as SessionStoreError, and express answers 500", async () => {
    const failing = failingStore();
    const store = expressSessionStore(failing);
    failing.failing.add("get");
    await expect(call((cb) => store.get("a", cb))).rejects.toMatchObject({ name: "SessionStoreError", operation: "get" });
    failing.failing.clear();
    const server = await startApp(failing, false);
    try {
      const browser = new Browser(server.url);
      await browser.fetch("/view", { method: "POST" });
      failing.failing.add("get");
      // express-session reads the store before the handler: the failure reaches next(err).
      // (A failing save happens after express-session sent the headers; it cannot become a 500.)
      const response = await browser.fetch("/read");
      expect(response.status).toBe(500);
    } finally {
      await server.close();
    }
  });
});
