// One web app per benchmarked configuration, in its own process (the load generator runs in
// another one, bench/lib/load-worker.mjs). The apps of one framework are identical except for
// the session layer: same framework, routes, bodies and settings (bench/lib/engine.mjs).
//
// Usage (spawned by bench/run.mjs with an IPC channel):
//   node bench/http/server.mjs <library> <backend> <framework>
//   library:   bare              the framework with no session layer at all
//              floor             one read by key per request on the backend (writes: read + write)
//              bare-dict         (Express) bare, with req and res switched to dictionary mode first,
//              floor-dict        (Express) and the floor so: what sessionkit's Express adapter does
//                                on the way in, measured without any session work
//              peer-dict         (Express) express-session behind the same switch
//              sessionkit        sessionkit's adapter for the framework
//              sessionkit-cache  the same with the near-cache on (cache: { maxEntries, ttl })
//              peer              express-session (Express) or @fastify/session (Fastify) on the backend's store
//   framework: express | fastify | hono | koa
// It sends { port } once listening; answers { type: "stats" } with its store operations,
// requests and CPU time so far; on "close" drops what it created and exits.
import { createRequire } from "node:module";
import { backendByName } from "../lib/backends.mjs";
import { dictionaryMiddleware } from "../lib/dictionary-mode.mjs";
import { importDist } from "../lib/dist.mjs";
import { expressSessionOptions, sessionkitOptions } from "../lib/engine.mjs";
import { COOKIE_NAME, SECRET, sessionPayload, TTL_MS } from "../lib/fixtures.mjs";
import { openFloor } from "../lib/floors.mjs";

const require = createRequire(import.meta.url);
const [library, backendName, framework = "express"] = process.argv.slice(2);
const backend = backendByName(backendName);

/** Store operations the session layer made, counted where it calls its store. */
const ops = { reads: 0, writes: 0, touches: 0 };
let requests = 0;

/** A sessionkit store that counts its calls (same object underneath). */
function countedSessionkitStore(store) {
  const wrap = (name, kind) => {
    const method = store[name];
    return {
      value: (...args) => {
        ops[kind]++;
        return method.apply(store, args);
      },
    };
  };
  return Object.create(store, {
    get: wrap("get", "reads"),
    create: wrap("create", "writes"),
    update: wrap("update", "writes"),
    delete: wrap("delete", "writes"),
    touch: wrap("touch", "touches"),
  });
}

/** An express-session store that counts its calls (in place: its prototype methods stay). */
function countedPeerStore(store) {
  for (const [name, kind] of [
    ["get", "reads"],
    ["set", "writes"],
    ["destroy", "writes"],
    ["touch", "touches"],
  ]) {
    const method = store[name];
    if (typeof method !== "function") continue;
    store[name] = function counted(...args) {
      ops[kind]++;
      return method.apply(this, args);
    };
  }
  return store;
}

/** The key a bare or floor app reads: the first 32 characters of the cookie value. */
function keyOf(cookieHeader) {
  if (typeof cookieHeader !== "string") return null;
  const at = cookieHeader.indexOf(`${COOKIE_NAME}=`);
  return at < 0 ? null : cookieHeader.slice(at + COOKIE_NAME.length + 1, at + COOKIE_NAME.length + 33);
}
/** A cookie as long as sessionkit's (32-hex id, then two 43-char segments), so every app parses the same bytes. */
const fakeCookie = (i) => `${i.toString(16).padStart(32, "0")}.${"a".repeat(43)}.${"b".repeat(43)}`;

/**
 * The session layer: how to mount it, and what the routes call. `ctx` is what the route gets:
 * Express `req`, Fastify `request`, Hono `c`, Koa `ctx`.
 */
async function sessionLayer() {
  if (["bare", "floor", "bare-dict", "floor-dict"].includes(library)) {
    const floor = library.startsWith("floor") ? await openFloor(backend.name) : null;
    const dictionary = library.endsWith("-dict");
    if (dictionary && framework !== "express") throw new Error(`[bench] "${library}" is an Express configuration`);
    return {
      mount: dictionary ? async (app) => app.use(dictionaryMiddleware) : async () => {},
      // No session: the route does its store work itself (floor) or none (bare).
      async before(ctx, cookie, route) {
        if (!floor || route === "visit") return;
        const key = keyOf(cookie);
        if (route === "seed") return;
        ops.reads++;
        ctx.floorValue = key === null ? null : await floor.read(key);
        if (route === "write" && ctx.floorValue !== null) {
          ops.writes++;
          await floor.write(key, ctx.floorValue);
        }
      },
      async seed(i) {
        const value = fakeCookie(i);
        if (floor) await floor.seed(value.slice(0, 32), i);
        return `${COOKIE_NAME}=${value}; Path=/; HttpOnly; SameSite=Lax`;
      },
      get: () => undefined,
      set: () => {},
      found: (ctx) => !floor || ctx.floorValue !== null,
      counter: () => 1,
      close: async () => floor?.close(),
    };
  }
  if (library === "sessionkit" || library === "sessionkit-cache") {
    const opened = await backend.sessionkit();
    const { createSessions } = await importDist("index.js");
    const store = countedSessionkitStore(opened.store);
    const sessions = createSessions({
      ...sessionkitOptions(store),
      ...(library === "sessionkit-cache" ? { cache: { maxEntries: 10_000, ttl: "1m" } } : {}),
    });
    const adapters = {
      express: async (app) => app.use((await importDist("adapters/express.js")).sessionMiddleware(sessions)),
      fastify: async (app) => app.register((await importDist("adapters/fastify.js")).sessionPlugin, { sessions }),
      hono: async (app) => app.use((await importDist("adapters/hono.js")).sessionMiddleware(sessions)),
      koa: async (app) => app.use((await importDist("adapters/koa.js")).sessionMiddleware(sessions)),
    };
    const sessionOf = framework === "hono" ? (c) => c.get("session") : (ctx) => ctx.session;
    return {
      mount: adapters[framework],
      get: (ctx, key) => sessionOf(ctx).get(key),
      set: (ctx, key, value) => sessionOf(ctx).set(key, value),
      found: (ctx) => !sessionOf(ctx).isNew,
      close: async () => {
        await sessions.close().catch(() => {});
        await opened.cleanup();
      },
    };
  }
  if ((library === "peer" || library === "peer-dict") && framework === "express") {
    const session = require("express-session");
    const opened = await backend.openPeer(session);
    return {
      mount: async (app) => {
        if (library === "peer-dict") app.use(dictionaryMiddleware);
        app.use(session(expressSessionOptions(countedPeerStore(opened.store))));
      },
      get: (req, key) => req.session[key],
      set: (req, key, value) => {
        req.session[key] = value;
      },
      found: (req) => req.session.user !== undefined,
      close: opened.cleanup,
    };
  }
  if (library === "peer" && framework === "fastify") {
    // @fastify/session takes express-session stores; for memory its own MemoryStore (what it
    // uses by default, passed explicitly so its calls can be counted).
    const fastifySession = require("@fastify/session");
    const opened =
      backend.name === "memory"
        ? { store: new fastifySession.MemoryStore(), cleanup: async () => {} }
        : await backend.openPeer(require("express-session"));
    const mount = async (app) => {
      await app.register(require("@fastify/cookie"));
      await app.register(fastifySession, {
        secret: SECRET,
        cookieName: COOKIE_NAME,
        saveUninitialized: false,
        rolling: false,
        cookie: { maxAge: TTL_MS, secure: false, httpOnly: true, sameSite: "lax", path: "/" },
        store: countedPeerStore(opened.store),
      });
    };
    return {
      mount,
      get: (req, key) => req.session.get(key),
      set: (req, key, value) => req.session.set(key, value),
      found: (req) => req.session.get("user") !== undefined,
      close: opened.cleanup,
    };
  }
  throw new Error(`[bench] no "${library}" configuration on ${framework}`);
}

const layer = await sessionLayer();
const sessionless = ["bare", "floor", "bare-dict", "floor-dict"].includes(library);

// The routes. /read, /write and /counter without their seeded session are a harness bug:
// they answer 500 so the load generator counts a failure and the run stops.
const routes = {
  seed(ctx, i) {
    const payload = sessionPayload(i);
    for (const [key, value] of Object.entries(payload)) layer.set(ctx, key, value);
    return "ok";
  },
  read(ctx) {
    layer.get(ctx, "user");
    layer.get(ctx, "cart");
    return "ok";
  },
  write(ctx) {
    layer.set(ctx, "counter", (layer.get(ctx, "counter") ?? 0) + 1);
    return "ok";
  },
  visit(ctx) {
    layer.get(ctx, "user");
    return "ok";
  },
  counter(ctx) {
    return JSON.stringify({ counter: sessionless ? layer.counter() : layer.get(ctx, "counter") });
  },
};
const needsSession = new Set(["read", "write", "counter"]);

/**
 * Runs one route for any framework: `cookie` is the request's Cookie header, `i` the seed
 * index. Returns [status, body, extra headers].
 */
async function answer(ctx, name, cookie, i) {
  if (sessionless) {
    await layer.before(ctx, cookie, name);
    if (name === "seed") return [200, "ok", { "set-cookie": await layer.seed(i) }];
  }
  if (needsSession.has(name) && !layer.found(ctx)) return [500, "session not found", null];
  return [200, routes[name](ctx, i), null];
}

async function listenExpress() {
  const express = (await import("express")).default;
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  await layer.mount(app);
  for (const name of Object.keys(routes)) {
    app[name === "seed" ? "post" : "get"](`/${name}`, async (req, res) => {
      const [status, body, headers] = await answer(req, name, req.headers.cookie, Number(req.query.i ?? 0));
      if (headers) res.set(headers);
      res.status(status).send(body);
    });
  }
  app.use((error, _req, res, _next) => {
    console.error(error);
    res.status(500).send("error");
  });
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => resolve(server));
  });
}

async function listenFastify() {
  const Fastify = (await import("fastify")).default;
  const app = Fastify({ logger: false });
  await layer.mount(app);
  for (const name of Object.keys(routes)) {
    app[name === "seed" ? "post" : "get"](`/${name}`, async (req, reply) => {
      const [status, body, headers] = await answer(req, name, req.headers.cookie, Number(req.query.i ?? 0));
      if (headers) reply.headers(headers);
      return reply.code(status).send(body);
    });
  }
  await app.listen({ port: 0, host: "127.0.0.1" });
  return app.server;
}

async function listenHono() {
  const { Hono } = await import("hono");
  const { serve } = await import("@hono/node-server");
  const app = new Hono();
  await layer.mount(app);
  for (const name of Object.keys(routes)) {
    app[name === "seed" ? "post" : "get"](`/${name}`, async (c) => {
      const [status, body, headers] = await answer(c, name, c.req.header("cookie"), Number(c.req.query("i") ?? 0));
      return c.text(body, status, headers ?? undefined);
    });
  }
  app.onError((error, c) => {
    console.error(error);
    return c.text("error", 500);
  });
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(server));
  });
}

async function listenKoa() {
  const Koa = (await import("koa")).default;
  const app = new Koa();
  app.on("error", (error) => console.error(error));
  await layer.mount(app);
  const methods = Object.fromEntries(Object.keys(routes).map((name) => [`/${name}`, name === "seed" ? "POST" : "GET"]));
  app.use(async (ctx) => {
    const name = ctx.path.slice(1);
    if (methods[ctx.path] !== ctx.method) {
      ctx.status = 404;
      return;
    }
    const [status, body, headers] = await answer(ctx, name, ctx.get("cookie") || undefined, Number(ctx.query.i ?? 0));
    if (headers) ctx.set(headers);
    ctx.status = status;
    ctx.body = body;
  });
  return new Promise((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const listen = { express: listenExpress, fastify: listenFastify, hono: listenHono, koa: listenKoa }[framework];
if (!listen) throw new Error(`[bench] unknown framework "${framework}"`);
const server = await listen();
server.keepAliveTimeout = 60_000;
// Requests are counted as they arrive, and stats wait until every request in flight finished,
// so operations and CPU per request are not skewed by requests cut at the end of a run.
let inflight = 0;
server.on("request", (_req, res) => {
  requests++;
  inflight++;
  res.once("close", () => inflight--);
});
const drained = async () => {
  const until = Date.now() + 3000;
  while (inflight > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
};
process.send?.({ type: "ready", port: server.address().port });

process.on("message", async (message) => {
  if (message?.type === "stats") {
    await drained();
    process.send?.({ type: "stats", ops: { ...ops }, requests, cpu: process.cpuUsage() });
    return;
  }
  if (message !== "close") return;
  server.close();
  server.closeAllConnections?.();
  try {
    await layer.close();
  } finally {
    // better-sqlite3-session-store leaves an interval running; leave anyway. process.exit
    // still writes the --cpu-prof profile.
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
