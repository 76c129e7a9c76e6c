/**
 * One app server of the multi-server test, run as its own process (`node --import tsx`):
 * a tiny node:http app with `createSessions` on the SQL store named by SK_STORE, sharing
 * SK_TABLE with its siblings. Prints `{"port":N}` once it listens on 127.0.0.1.
 *
 *   POST /login?user=U      login(U), set who=U          GET /get        the session as JSON
 *   POST /set?key=K&value=V set K=V                      GET /list?user=U  ids of U's sessions
 *   POST /revoke?id=ID      sessions.revoke(ID)
 */
import http from "node:http";
import { createSessions } from "../../src/index.js";
import { type SqlStoreKind, sqlBackends } from "./sql-stores.js";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`app-server: ${name} is not set`);
  return value;
};

const store = sqlBackends[env("SK_STORE") as SqlStoreKind].store(env("SK_URL"), env("SK_TABLE"), { connectTimeout: 5000 });
const sessions = createSessions<Record<string, unknown>>({
  store,
  secrets: [env("SK_SECRET")],
  cookie: { secure: false },
});

const toHeaders = (req: http.IncomingMessage) => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
  }
  return headers;
};

async function handle(req: http.IncomingMessage): Promise<{ status: number; body: unknown; headers?: Headers }> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const param = (name: string) => url.searchParams.get(name) ?? "";
  const route = `${req.method} ${url.pathname}`;
  if (route === "POST /revoke") return { status: 200, body: { revoked: await sessions.revoke(param("id")) } };
  if (route === "GET /list") return { status: 200, body: (await sessions.list(param("user"))).map((s) => s.id) };

  const session = await sessions.load(toHeaders(req));
  if (route === "POST /login") {
    await session.login(param("user"));
    session.set("who", param("user"));
  } else if (route === "POST /set") {
    session.set(param("key"), param("value"));
  } else if (route !== "GET /get") {
    return { status: 404, body: { error: "no such route" } };
  }
  const headers = await sessions.commit(session);
  return { status: 200, headers, body: { id: session.id, isNew: session.isNew, userId: session.userId, data: session.toJSON() } };
}

const server = http.createServer((req, res) => {
  handle(req).then(
    ({ status, body, headers }) => {
      headers?.forEach((value, name) => {
        res.appendHeader(name, value);
      });
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    },
    (error: unknown) => {
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: String(error) }));
    },
  );
});

server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port }));
});

process.on("SIGTERM", () => {
  server.close();
  void sessions.close().finally(() => process.exit(0));
});
