// One entry per backend: how to open sessionkit's store and its closest express-session peer.
// Both sides get the same kind of resource (a fresh file, table or key prefix) and the same pool
// sizes; everything is created per run and dropped afterwards.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importDist } from "./dist.mjs";
import { uniqueSuffix } from "./fixtures.mjs";

const require = createRequire(import.meta.url);

export const SERVICE_URLS = {
  postgres: process.env.SESSIONKIT_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  mysql: process.env.SESSIONKIT_BENCH_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test",
  redis: process.env.SESSIONKIT_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
};

/** Connection pool size for both sides of the SQL pairs. */
const POOL_SIZE = 10;

/** A fresh directory for one SQLite file; removed by the returned cleanup. */
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), "sessionkit-bench-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The same pragmas sessionkit's sqlite store sets on a file it opens, so the peer is not handicapped. */
function tuneSqlite(db) {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
}

/**
 * @typedef {object} Opened
 * @property {object} store  a sessionkit SessionStore or an express-session Store
 * @property {() => Promise<void>} cleanup  closes connections and drops what the run created
 */

/**
 * @typedef {object} Backend
 * @property {string} name
 * @property {string | null} service  external server it needs, probed before the run
 * @property {string | null} peer  the express-session store it is compared with, or null
 * @property {string} peerNote  how the peer is configured (printed in the report)
 * @property {() => Promise<Opened>} sessionkit
 * @property {((session: any) => Promise<Opened>) | null} openPeer  takes the express-session module
 */

/** @type {Backend[]} */
export const BACKENDS = [
  {
    name: "memory",
    service: null,
    peer: "express-session MemoryStore",
    peerNote: "express-session's built-in MemoryStore (its docs say: not for production)",
    async sessionkit() {
      const { memoryStore } = await importDist("stores/memory.js");
      const store = memoryStore({ maxEntries: 1_000_000 });
      return { store, cleanup: () => store.close() };
    },
    async openPeer(session) {
      const store = new session.MemoryStore();
      return { store, cleanup: async () => {} };
    },
  },
  {
    name: "sqlite",
    service: null,
    peer: "better-sqlite3-session-store",
    peerNote:
      "better-sqlite3-session-store on a better-sqlite3 file given the same pragmas as sessionkit's (WAL, synchronous=NORMAL)",
    async sessionkit() {
      const { sqliteStore } = await importDist("stores/sqlite.js");
      const tmp = tempDir();
      const store = sqliteStore({ path: join(tmp.dir, "sessionkit.sqlite") });
      return {
        store,
        cleanup: async () => {
          await store.close();
          tmp.remove();
        },
      };
    },
    async openPeer(session) {
      const Database = require("better-sqlite3");
      const SqliteStore = require("better-sqlite3-session-store")(session);
      const tmp = tempDir();
      const db = new Database(join(tmp.dir, "peer.sqlite"));
      tuneSqlite(db);
      // Its expiry sweep is a setInterval it never clears; the 1-day interval keeps it out of the run.
      const store = new SqliteStore({ client: db, expired: { clear: true, intervalMs: 86_400_000 } });
      return {
        store,
        cleanup: async () => {
          db.close();
          tmp.remove();
        },
      };
    },
  },
  {
    name: "redis",
    service: "redis",
    peer: "connect-redis",
    peerNote: "connect-redis 9 on a node-redis 5 client (the client it requires); sessionkit uses ioredis",
    async sessionkit() {
      const { redisStore } = await importDist("stores/redis.js");
      const { Redis } = await import("ioredis");
      const client = new Redis(SERVICE_URLS.redis, { maxRetriesPerRequest: 1 });
      const prefix = `skbench_${uniqueSuffix()}`;
      const store = redisStore({ client, prefix });
      return {
        store,
        cleanup: async () => {
          await dropRedisPrefix(client, prefix);
          await store.close();
          await client.quit();
        },
      };
    },
    async openPeer() {
      const { RedisStore } = await import("connect-redis");
      const { createClient } = await import("redis");
      const client = createClient({ url: SERVICE_URLS.redis });
      await client.connect();
      const prefix = `peerbench_${uniqueSuffix()}:`;
      const store = new RedisStore({ client, prefix, ttl: 86_400 });
      return {
        store,
        cleanup: async () => {
          for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
            if (keys.length > 0) await client.del(keys);
          }
          await client.quit();
        },
      };
    },
  },
  {
    name: "postgres",
    service: "postgres",
    peer: "connect-pg-simple",
    peerNote: `connect-pg-simple on a pg.Pool of ${POOL_SIZE} (same pool size as sessionkit), createTableIfMissing, pruning off`,
    async sessionkit() {
      const { postgresStore } = await importDist("stores/postgres.js");
      const pg = (await import("pg")).default;
      const pool = new pg.Pool({ connectionString: SERVICE_URLS.postgres, max: POOL_SIZE });
      const table = `skbench_${uniqueSuffix()}`;
      const store = postgresStore({ pool, table });
      await store.migrate();
      return {
        store,
        cleanup: async () => {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS "${table}"`);
          await pool.end();
        },
      };
    },
    async openPeer(session) {
      const pg = (await import("pg")).default;
      const PgStore = require("connect-pg-simple")(session);
      const pool = new pg.Pool({ connectionString: SERVICE_URLS.postgres, max: POOL_SIZE });
      const tableName = `peerbench_${uniqueSuffix()}`;
      // connect-pg-simple's own table.sql, with the constraint and index named after the table:
      // its createTableIfMissing names them "session_pkey" and "IDX_session_expire" whatever the
      // table, so two peers at once (plain and in dictionary mode) would collide.
      await pool.query(
        `CREATE TABLE "${tableName}" ("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL, "expire" timestamp(6) NOT NULL,
         CONSTRAINT "${tableName}_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE)`,
      );
      await pool.query(`CREATE INDEX "${tableName}_expire" ON "${tableName}" ("expire")`);
      const store = new PgStore({ pool, tableName, createTableIfMissing: false, pruneSessionInterval: false });
      return {
        store,
        cleanup: async () => {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS "${tableName}"`);
          await pool.end();
        },
      };
    },
  },
  {
    name: "mysql",
    service: "mysql",
    peer: null,
    peerNote:
      "no express-session MySQL store is installed (express-mysql-session is not a dependency): sessionkit alone, no ratio",
    async sessionkit() {
      const { mysqlStore } = await importDist("stores/mysql.js");
      const mysql = (await import("mysql2/promise")).default;
      const pool = mysql.createPool({ uri: SERVICE_URLS.mysql, connectionLimit: POOL_SIZE });
      const table = `skbench_${uniqueSuffix()}`;
      const store = mysqlStore({ pool, table });
      await store.migrate();
      return {
        store,
        cleanup: async () => {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
          await pool.end();
        },
      };
    },
    openPeer: null,
  },
];

async function dropRedisPrefix(client, prefix) {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

/** The backend named `name`, or an error listing the valid names. */
export function backendByName(name) {
  const backend = BACKENDS.find((b) => b.name === name);
  if (!backend) throw new Error(`[bench] unknown backend "${name}"; pick from ${BACKENDS.map((b) => b.name).join(", ")}`);
  return backend;
}

/** Why a backend cannot run here (its store is not built, or its server is unreachable), or null. */
export async function unavailableReason(backend, distDir) {
  if (!existsSync(join(distDir, "stores", `${backend.name}.js`))) return `dist/stores/${backend.name}.js is not built`;
  if (backend.service === null) return null;
  const { hostname, port } = new URL(SERVICE_URLS[backend.service]);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port), timeout: 2000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(null);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(`${backend.service} at ${hostname}:${port} timed out`);
    });
    socket.once("error", (error) => resolve(`${backend.service} at ${hostname}:${port} unreachable (${error.message})`));
  });
}
