// The one-round-trip floor of each backend: what the same app costs when its "session layer"
// is exactly one read by key per request (for writes: one read plus one write), on the same
// driver and pool the sessionkit side uses, with a value of the same size. No signing, no
// hashing, no encryption, no parsing: the least any server-side session can cost on that store.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVICE_URLS } from "./backends.mjs";
import { sessionPayload, uniqueSuffix } from "./fixtures.mjs";

const require = createRequire(import.meta.url);
const POOL_SIZE = 10;
/** The value stored per key: the session payload as JSON, as big as what the sessionkit side stores. */
const payloadOf = (i) => JSON.stringify(sessionPayload(i));

/** What a floor read and write are, per backend (for the report). */
export const FLOOR_NOTES = {
  memory: "Map#get (write: Map#set) of the ~1 KB JSON string",
  sqlite: "SELECT data WHERE id = ? (write: + INSERT OR REPLACE), better-sqlite3 prepared, WAL, synchronous=NORMAL",
  redis: "GET (write: + SET EX) on ioredis",
  postgres: "SELECT data WHERE id = $1 (write: + INSERT ... ON CONFLICT UPDATE), pg.Pool of 10, named prepared statements",
  mysql: "SELECT data WHERE id = ? (write: + INSERT ... ON DUPLICATE KEY UPDATE), mysql2 pool of 10, execute()",
};

/**
 * @typedef {object} Floor
 * @property {string} describe  what a read and a write are, for the report
 * @property {(key: string, i: number) => Promise<void>} seed
 * @property {(key: string) => Promise<unknown>} read  one round trip; resolves the value (null when missing)
 * @property {(key: string, value: string) => Promise<void>} write  one round trip
 * @property {() => Promise<void>} close  drops what it created
 */

/** @returns {Promise<Floor>} */
export async function openFloor(backend) {
  if (backend === "memory") {
    const map = new Map();
    return {
      describe: "Map#get / Map#set",
      seed: async (key, i) => void map.set(key, payloadOf(i)),
      read: async (key) => map.get(key) ?? null,
      write: async (key, value) => void map.set(key, value),
      close: async () => map.clear(),
    };
  }
  if (backend === "sqlite") {
    const Database = require("better-sqlite3");
    const dir = mkdtempSync(join(tmpdir(), "sessionkit-floor-"));
    const db = new Database(join(dir, "floor.sqlite"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.exec("CREATE TABLE floor (id TEXT PRIMARY KEY, data BLOB NOT NULL)");
    const get = db.prepare("SELECT data FROM floor WHERE id = ?");
    const put = db.prepare("INSERT OR REPLACE INTO floor (id, data) VALUES (?, ?)");
    return {
      describe: "SELECT data WHERE id = ? / INSERT OR REPLACE (better-sqlite3, WAL, prepared)",
      seed: async (key, i) => void put.run(key, Buffer.from(payloadOf(i))),
      read: async (key) => get.get(key)?.data ?? null,
      write: async (key, value) => void put.run(key, Buffer.from(value)),
      close: async () => {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (backend === "redis") {
    const { Redis } = await import("ioredis");
    const client = new Redis(SERVICE_URLS.redis, { maxRetriesPerRequest: 1 });
    const prefix = `floorbench_${uniqueSuffix()}:`;
    return {
      describe: "GET / SET EX (ioredis)",
      seed: async (key, i) => void (await client.set(prefix + key, payloadOf(i), "EX", 86_400)),
      read: (key) => client.getBuffer(prefix + key),
      write: async (key, value) => void (await client.set(prefix + key, value, "EX", 86_400)),
      close: async () => {
        let cursor = "0";
        do {
          const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
          if (keys.length > 0) await client.del(...keys);
          cursor = next;
        } while (cursor !== "0");
        await client.quit();
      },
    };
  }
  if (backend === "postgres") {
    const pg = (await import("pg")).default;
    const pool = new pg.Pool({ connectionString: SERVICE_URLS.postgres, max: POOL_SIZE });
    const table = `floorbench_${uniqueSuffix()}`;
    await pool.query(`CREATE TABLE "${table}" (id text PRIMARY KEY, data bytea NOT NULL)`);
    const get = { name: `floor_get_${table}`, text: `SELECT data FROM "${table}" WHERE id = $1` };
    const put = {
      name: `floor_put_${table}`,
      text: `INSERT INTO "${table}" (id, data) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data`,
    };
    return {
      describe: "SELECT data WHERE id = $1 / INSERT ... ON CONFLICT UPDATE (pg.Pool of 10, named prepared statements)",
      seed: async (key, i) => void (await pool.query({ ...put, values: [key, Buffer.from(payloadOf(i))] })),
      read: async (key) => (await pool.query({ ...get, values: [key] })).rows[0]?.data ?? null,
      write: async (key, value) => void (await pool.query({ ...put, values: [key, Buffer.from(value)] })),
      close: async () => {
        await pool.query(`DROP TABLE IF EXISTS "${table}"`);
        await pool.end();
      },
    };
  }
  if (backend === "mysql") {
    const mysql = (await import("mysql2/promise")).default;
    const pool = mysql.createPool({ uri: SERVICE_URLS.mysql, connectionLimit: POOL_SIZE });
    const table = `floorbench_${uniqueSuffix()}`;
    await pool.query(`CREATE TABLE \`${table}\` (id VARCHAR(64) PRIMARY KEY, data MEDIUMBLOB NOT NULL)`);
    const put = `INSERT INTO \`${table}\` (id, data) VALUES (?, ?) ON DUPLICATE KEY UPDATE data = VALUES(data)`;
    return {
      describe: "SELECT data WHERE id = ? / INSERT ... ON DUPLICATE KEY UPDATE (mysql2 pool of 10, execute)",
      seed: async (key, i) => void (await pool.execute(put, [key, Buffer.from(payloadOf(i))])),
      read: async (key) => (await pool.execute(`SELECT data FROM \`${table}\` WHERE id = ?`, [key]))[0][0]?.data ?? null,
      write: async (key, value) => void (await pool.execute(put, [key, Buffer.from(value)])),
      close: async () => {
        await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
        await pool.end();
      },
    };
  }
  throw new Error(`[bench] no floor for backend "${backend}"`);
}
