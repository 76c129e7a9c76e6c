/**
 * One app server of the near-cache test, run as its own process (`node --import tsx`): a
 * node:http app with `createSessions({ cache })` on Redis, PostgreSQL or a Redis Cluster
 * (SK_STORE), its store connection on SK_URL and its invalidation channel's connection on
 * SK_CHANNEL_URL (a proxy the test can cut; the store's `subscriber` / `listenClient` option;
 * a Cluster subscribes as it would by default, SK_URL being its seed nodes as JSON). Prints `{"port":N}` once it listens on 127.0.0.1.
 *
 *   POST /login?user=U   login(U)            GET /get     the session as JSON
 *   POST /set?v=V        set("v", V)
 *   POST /revoke?id=ID   sessions.revoke(ID)  GET /cache   { up, loads, fromStore }: channel state, store reads
 */
import http from "node:http";
import { Cluster, Redis } from "ioredis";
import pg from "pg";
import type { InvalidationChannel, InvalidationListener } from "../../src/contract/store.js";
import { createSessions, type SessionStore } from "../../src/index.js";
import { listenClientOf } from "../../src/stores/postgres/channel.js";
import { postgresStore } from "../../src/stores/postgres.js";
import { redisStore } from "../../src/stores/redis.js";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`near-cache-server: ${name} is not set`);
  return value;
};

const kind = env("SK_STORE");
const name = env("SK_NAME");
let store: SessionStore;
let up = false;

/**
 * The channel, with the cache's own subscription observed: `up` is the state the cache was
 * told (a second subscription would have its own connection, up or down at other moments).
 */
function observed(channel: InvalidationChannel): InvalidationChannel {
  // Object.create, not a spread: the Redis channel's publishesOnUpdate is a getter.
  return Object.create(channel, {
    subscribe: {
      value: (listener: InvalidationListener) =>
        channel.subscribe({
          invalidate: (ids) => listener.invalidate(ids),
          invalidateAll: () => listener.invalidateAll(),
          state: (state) => {
            up = state;
            listener.state(state);
          },
        }),
    },
  }) as InvalidationChannel;
}
const closers: Array<() => Promise<unknown>> = [];
if (kind === "redis-cluster") {
  const client = new Cluster(JSON.parse(env("SK_URL")), { redisOptions: { maxRetriesPerRequest: 1 } });
  closers.push(() => client.quit());
  const base = redisStore({ client, prefix: name });
  store = Object.create(base, { invalidation: { value: observed(base.invalidation as InvalidationChannel) } }) as SessionStore;
} else if (kind === "redis") {
  const client = new Redis(env("SK_URL"), { maxRetriesPerRequest: 1 });
  closers.push(() => client.quit());
  const base = redisStore({
    client,
    prefix: name,
    subscriber: () => new Redis(env("SK_CHANNEL_URL"), { retryStrategy: () => 50, maxRetriesPerRequest: 1 }),
  });
  store = Object.create(base, { invalidation: { value: observed(base.invalidation as InvalidationChannel) } }) as SessionStore;
} else {
  const pool = new pg.Pool({ connectionString: env("SK_URL"), max: 4 });
  pool.on("error", () => {});
  closers.push(() => pool.end());
  const channelPool = new pg.Pool({ connectionString: env("SK_CHANNEL_URL") });
  const base = postgresStore({ pool, table: name, listenClient: () => listenClientOf(channelPool) });
  store = Object.create(base, { invalidation: { value: observed(base.invalidation as InvalidationChannel) } }) as SessionStore;
}

const sessions = createSessions<Record<string, unknown>>({
  store,
  secrets: [env("SK_SECRET")],
  cookie: { secure: false },
  cache: { maxEntries: 1000, ttl: "1h" },
});

const toHeaders = (req: http.IncomingMessage) => {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(key, value);
  return headers;
};

let loads = 0;
let fromStore = 0;
const get = store.get.bind(store);
Object.defineProperty(store, "get", {
  value: (id: string, now: number) => {
    fromStore++;
    return get(id, now);
  },
});

async function handle(req: http.IncomingMessage): Promise<{ status: number; body: unknown; headers?: Headers }> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const param = (key: string) => url.searchParams.get(key) ?? "";
  const route = `${req.method} ${url.pathname}`;
  if (route === "POST /revoke") return { status: 200, body: { revoked: await sessions.revoke(param("id")) } };
  if (route === "GET /cache") return { status: 200, body: { up, loads, fromStore } };
  loads++;
  const session = await sessions.load(toHeaders(req));
  if (route === "POST /login") {
    await session.login(param("user"));
    session.set("who", param("user"));
  } else if (route === "POST /set") {
    session.set("v", param("v"));
  } else if (route !== "GET /get") {
    return { status: 404, body: { error: "no such route" } };
  }
  const headers = await sessions.commit(session);
  return {
    status: 200,
    headers,
    body: { id: session.id, isNew: session.isNew, userId: session.userId, v: session.get("v") ?? null },
  };
}

const server = http.createServer((req, res) => {
  handle(req).then(
    ({ status, body, headers }) => {
      headers?.forEach((value, key) => {
        res.appendHeader(key, value);
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
  void sessions
    .close()
    .then(() => Promise.all(closers.map((close) => close().catch(() => {}))))
    .finally(() => process.exit(0));
});
