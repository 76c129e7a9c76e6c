// One web app per benchmarked side, in its own process so the load generator (autocannon, in
// the parent) and the server each get a core. The two apps of a pair are identical except for
// the session layer: same framework, routes, bodies and settings (bench/lib/engine.mjs).
//
// Usage (spawned by bench/run.mjs with an IPC channel):
//   node bench/http/server.mjs <sessionkit|peer> <backend> [express|fastify]
// The peer is express-session (Express) or @fastify/session (Fastify) on the backend's store.
// It sends { port } once listening, and on the message "close" drops its store and exits.
import { createRequire } from "node:module";
import { backendByName } from "../lib/backends.mjs";
import { importDist } from "../lib/dist.mjs";
import { expressSessionOptions, sessionkitOptions } from "../lib/engine.mjs";
import { COOKIE_NAME, SECRET, sessionPayload, TTL_MS } from "../lib/fixtures.mjs";

const require = createRequire(import.meta.url);
const [library, backendName, framework = "express"] = process.argv.slice(2);
const backend = backendByName(backendName);

/**
 * The session layer: how to mount it, and the accessors the routes use.
 * @returns {Promise<{ mount: (app: any) => Promise<void>, get: Function, set: Function, found: Function, close: () => Promise<void> }>}
 */
async function sessionLayer() {
  if (library === "sessionkit") {
    const opened = await backend.sessionkit();
    const { createSessions } = await importDist("index.js");
    const sessions = createSessions(sessionkitOptions(opened.store));
    const mount =
      framework === "express"
        ? async (app) => app.use((await importDist("adapters/express.js")).sessionMiddleware(sessions))
        : async (app) => app.register((await importDist("adapters/fastify.js")).sessionPlugin, { sessions });
    return {
      mount,
      get: (req, key) => req.session.get(key),
      set: (req, key, value) => req.session.set(key, value),
      found: (req) => !req.session.isNew,
      close: async () => {
        await sessions.close().catch(() => {});
        await opened.cleanup();
      },
    };
  }
  if (library === "peer" && framework === "express") {
    const session = require("express-session");
    const opened = await backend.openPeer(session);
    return {
      mount: async (app) => app.use(session(expressSessionOptions(opened.store))),
      get: (req, key) => req.session[key],
      set: (req, key, value) => {
        req.session[key] = value;
      },
      found: (req) => req.session.user !== undefined,
      close: opened.cleanup,
    };
  }
  if (library === "peer" && framework === "fastify") {
    // @fastify/session takes express-session stores; for memory it keeps its own MemoryStore.
    const opened = backend.name === "memory" ? null : await backend.openPeer(require("express-session"));
    const mount = async (app) => {
      await app.register(require("@fastify/cookie"));
      await app.register(require("@fastify/session"), {
        secret: SECRET,
        cookieName: COOKIE_NAME,
        saveUninitialized: false,
        rolling: false,
        cookie: { maxAge: TTL_MS, secure: false, httpOnly: true, sameSite: "lax", path: "/" },
        ...(opened ? { store: opened.store } : {}),
      });
    };
    return {
      mount,
      get: (req, key) => req.session.get(key),
      set: (req, key, value) => req.session.set(key, value),
      found: (req) => req.session.get("user") !== undefined,
      close: opened ? opened.cleanup : async () => {},
    };
  }
  throw new Error(`[bench] unknown library/framework "${library}"/"${framework}"`);
}

const layer = await sessionLayer();

// The routes. /read, /write and /counter without their seeded session are a harness bug:
// they answer 500 so autocannon counts a failure and the run stops.
const routes = {
  seed(req) {
    const payload = sessionPayload(Number(req.query.i ?? 0));
    for (const [key, value] of Object.entries(payload)) layer.set(req, key, value);
    return "ok";
  },
  read(req) {
    layer.get(req, "user");
    layer.get(req, "cart");
    return "ok";
  },
  write(req) {
    layer.set(req, "counter", layer.get(req, "counter") + 1);
    return "ok";
  },
  visit(req) {
    layer.get(req, "user");
    return "ok";
  },
  counter(req) {
    return JSON.stringify({ counter: layer.get(req, "counter") });
  },
};
const needsSession = new Set(["read", "write", "counter"]);

async function listenExpress() {
  const express = (await import("express")).default;
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  await layer.mount(app);
  for (const [name, route] of Object.entries(routes)) {
    app[name === "seed" ? "post" : "get"](`/${name}`, (req, res) => {
      if (needsSession.has(name) && !layer.found(req)) return res.status(500).send("session not found");
      res.send(route(req));
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
  for (const [name, route] of Object.entries(routes)) {
    app[name === "seed" ? "post" : "get"](`/${name}`, async (req, reply) => {
      if (needsSession.has(name) && !layer.found(req)) return reply.code(500).send("session not found");
      return route(req);
    });
  }
  await app.listen({ port: 0, host: "127.0.0.1" });
  return app.server;
}

const server = framework === "fastify" ? await listenFastify() : await listenExpress();
server.keepAliveTimeout = 60_000;
process.send?.({ port: server.address().port });

process.on("message", async (message) => {
  if (message !== "close") return;
  server.close();
  server.closeAllConnections();
  try {
    await layer.close();
  } finally {
    // better-sqlite3-session-store leaves an interval running; leave anyway.
    process.exit(0);
  }
});
process.on("disconnect", () => process.exit(0));
