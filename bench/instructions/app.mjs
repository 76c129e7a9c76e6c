// One process holding an Express app and a keep-alive client, for counting instructions per
// request under valgrind (bench/instructions/run.mjs). Wall time on a shared VM varies by tens
// of percent from one minute to the next; instruction counts do not, so small cuts to the
// session layer can be seen. The client's instructions are the same for every configuration
// and cancel out in the difference to the bare app.
//
// Usage: node bench/instructions/app.mjs <configuration> <scenario> <warm-up requests> <measured requests>
//   configuration: bare | bare-dict (req/res in dictionary mode, as sessionkit's adapter switches them)
//                  | sessionkit | sessionkit-cache | peer (express-session, MemoryStore)
//   scenario: read (two keys read) | write (one key changed)
import { Agent, request as httpRequest } from "node:http";
import { createRequire } from "node:module";
import { dictionaryMiddleware } from "../lib/dictionary-mode.mjs";
import { importDist } from "../lib/dist.mjs";
import { expressSessionOptions, sessionkitOptions } from "../lib/engine.mjs";
import { cookiePair, sessionPayload } from "../lib/fixtures.mjs";

const require = createRequire(import.meta.url);
const [configuration, scenario, warmArg, countArg] = process.argv.slice(2);
const CONFIGURATIONS = ["bare", "bare-dict", "sessionkit", "sessionkit-cache", "peer"];
if (!CONFIGURATIONS.includes(configuration) || !["read", "write"].includes(scenario)) {
  throw new Error(`[bench] usage: app.mjs <${CONFIGURATIONS.join("|")}> <read|write> <warm-up> <measured>`);
}
const warm = Number(warmArg);
const count = Number(countArg);
/** Requests in flight at once, so responses batch per event-loop turn as on a loaded server. */
const IN_FLIGHT = 8;

const express = (await import("express")).default;
const app = express();
app.disable("x-powered-by");
app.disable("etag");
let closeSessions = async () => {};

if (configuration === "bare-dict") {
  app.use(dictionaryMiddleware);
} else if (configuration === "sessionkit" || configuration === "sessionkit-cache") {
  const { createSessions } = await importDist("index.js");
  const { memoryStore } = await importDist("stores/memory.js");
  const { sessionMiddleware } = await importDist("adapters/express.js");
  const sessions = createSessions({
    ...sessionkitOptions(memoryStore()),
    ...(configuration === "sessionkit-cache" ? { cache: { maxEntries: 1000, ttl: 10 * 60_000 } } : {}),
  });
  closeSessions = () => sessions.close();
  app.use(sessionMiddleware(sessions));
} else if (configuration === "peer") {
  const session = require("express-session");
  app.use(session(expressSessionOptions(new session.MemoryStore())));
}

const bare = configuration === "bare" || configuration === "bare-dict";
const get = (req, key) => (bare ? undefined : req.session.get ? req.session.get(key) : req.session[key]);
const set = (req, key, value) => {
  if (req.session.set) req.session.set(key, value);
  else req.session[key] = value;
};
app.post("/seed", (req, res) => {
  if (!bare) for (const [key, value] of Object.entries(sessionPayload(0))) set(req, key, value);
  res.send("ok");
});
app.get("/read", (req, res) => {
  get(req, "user");
  get(req, "cart");
  if (!bare && (get(req, "user") === undefined || get(req, "user") === null)) return res.status(500).send("no session");
  res.send("ok");
});
app.get("/write", (req, res) => {
  if (!bare) set(req, "counter", (get(req, "counter") ?? 0) + 1);
  res.send("ok");
});
app.get("/counter", (req, res) => {
  res.send(String(bare ? 0 : (get(req, "counter") ?? 0)));
});

const server = app.listen(0, "127.0.0.1");
await new Promise((resolve) => server.once("listening", resolve));
const { port } = server.address();
const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

function send(method, path, cookie) {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, agent, headers: cookie ? { cookie } : {} }, (res) => {
      res.resume();
      res.on("end", () => resolve(res));
    });
    req.on("error", reject);
    req.end();
  });
}

// As many sessions as the HTTP benchmark, taken in turn: no two requests in flight share one.
// (On one session, sessionkit's per-process queue would merge concurrent writes of the same
// key into one, and measure less than one write per request.)
const SESSIONS = 50;
const cookies = [];
for (let i = 0; i < SESSIONS; i++) {
  const seeded = await send("POST", "/seed");
  cookies.push(bare ? null : cookiePair(seeded.headers["set-cookie"]?.[0]));
}
let turn = 0;

async function burst(total) {
  let left = total;
  const worker = async () => {
    while (left-- > 0) {
      const res = await send("GET", `/${scenario}`, cookies[turn++ % SESSIONS]);
      if (res.statusCode !== 200) throw new Error(`[bench] ${configuration} ${scenario} answered ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

await burst(warm);
await burst(count);
if (scenario === "write" && !bare) {
  // Every request's write landed: the counters add up to the requests sent.
  let sum = 0;
  for (const cookie of cookies) {
    const body = await new Promise((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port, path: "/counter", agent, headers: { cookie } }, (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end();
    });
    sum += Number(body);
  }
  if (sum !== warm + count) throw new Error(`[bench] ${configuration}: ${sum} of ${warm + count} writes landed`);
}
agent.destroy();
server.close();
await closeSessions();
process.exit(0);
