// One Express 5 app per benchmarked side, in its own process so the load generator (autocannon,
// in the parent) and the server each get a core. The two apps of a pair are identical except
// for the session layer: same routes, same bodies, same settings (bench/lib/engine.mjs).
//
// Usage (spawned by bench/run.mjs with an IPC channel):
//   node bench/http/server.mjs <sessionkit|express-session> <backend>
// It sends { port } once listening, and on the message "close" drops its store and exits.
import { createRequire } from "node:module";
import express from "express";
import { backendByName } from "../lib/backends.mjs";
import { importDist } from "../lib/dist.mjs";
import { expressSessionOptions, sessionkitOptions } from "../lib/engine.mjs";
import { sessionPayload } from "../lib/fixtures.mjs";

const require = createRequire(import.meta.url);
const [library, backendName] = process.argv.slice(2);
const backend = backendByName(backendName);

/** The session layer: middleware plus the four accessors the routes use. */
async function sessionLayer() {
  if (library === "sessionkit") {
    const opened = await backend.sessionkit();
    const { createSessions } = await importDist("index.js");
    const { sessionMiddleware } = await importDist("adapters/express.js");
    const sessions = createSessions(sessionkitOptions(opened.store));
    return {
      middleware: sessionMiddleware(sessions),
      get: (req, key) => req.session.get(key),
      set: (req, key, value) => req.session.set(key, value),
      found: (req) => !req.session.isNew,
      close: async () => {
        await sessions.close().catch(() => {});
        await opened.cleanup();
      },
    };
  }
  if (library === "express-session") {
    const session = require("express-session");
    const opened = await backend.openPeer(session);
    return {
      middleware: session(expressSessionOptions(opened.store)),
      get: (req, key) => req.session[key],
      set: (req, key, value) => {
        req.session[key] = value;
      },
      found: (req) => req.session.user !== undefined,
      close: opened.cleanup,
    };
  }
  throw new Error(`[bench] unknown library "${library}"`);
}

const layer = await sessionLayer();
const app = express();
app.disable("x-powered-by");
app.disable("etag");
app.use(layer.middleware);

// A request to /read, /write or /counter without its seeded session is a harness bug: answer
// 500 so autocannon counts it as a failure and the run reports it.
const requireSession = (req, res, next) => (layer.found(req) ? next() : res.status(500).send("session not found"));

app.post("/seed", (req, res) => {
  const payload = sessionPayload(Number(req.query.i ?? 0));
  for (const [key, value] of Object.entries(payload)) layer.set(req, key, value);
  res.send("ok");
});
app.get("/read", requireSession, (req, res) => {
  layer.get(req, "user");
  layer.get(req, "cart");
  res.send("ok");
});
app.get("/write", requireSession, (req, res) => {
  layer.set(req, "counter", layer.get(req, "counter") + 1);
  res.send("ok");
});
app.get("/visit", (req, res) => {
  layer.get(req, "user");
  res.send("ok");
});
app.get("/counter", requireSession, (req, res) => {
  res.json({ counter: layer.get(req, "counter") });
});
app.use((error, _req, res, _next) => {
  console.error(error);
  res.status(500).send("error");
});

const server = app.listen(0, "127.0.0.1", () => {
  process.send?.({ port: server.address().port });
});
server.keepAliveTimeout = 60_000;

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
