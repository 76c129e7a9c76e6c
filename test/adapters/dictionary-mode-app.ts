// Child of express-dictionary-mode.test.ts, run with --allow-natives-syntax: answers whether
// req and res still have fast properties (a hidden class of their own) inside a route, with
// the adapter's dictionary mode on (/on) and off (/off).
import { createServer } from "node:http";
import express from "express";
import { sessionMiddleware } from "../../src/adapters/express.js";
import { createSessions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";

// A Function body is parsed at run time, so the natives syntax never meets tsx's parser.
const hasFastProperties = new Function("o", "return %HasFastProperties(o)") as (o: object) => boolean;

const sessions = createSessions({ store: memoryStore(), secrets: ["x".repeat(32)], cookie: { secure: false } });
const report = (req: express.Request, res: express.Response) => {
  req.session.set("seen", true);
  res.json({ req: hasFastProperties(req), res: hasFastProperties(res), seen: req.session.get("seen") });
};
const on = express();
on.use(sessionMiddleware(sessions));
on.get("/", report);
const off = express();
off.use(sessionMiddleware(sessions, { dictionaryMode: false }));
off.get("/", report);
const app = express();
app.use("/on", on);
app.use("/off", off);
const server = createServer(app).listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});
