/** The express-session bridge's Store semantics on PostgreSQL, MySQL and Redis (skipped when a service is down). */
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { mysqlStore } from "../../src/stores/mysql.js";
import { postgresStore } from "../../src/stores/postgres.js";
import { redisStore } from "../../src/stores/redis.js";
import { dropRedisKeys } from "../helpers/redis-server.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { runExpressSessionStoreSuite } from "./express-session-store.case.js";

const postgres = describeWithService("postgres");
postgres.describe("postgres", () => {
  runExpressSessionStoreSuite("postgres", {
    async open() {
      const pool = new pg.Pool({ connectionString: postgres.url, max: 4 });
      const table = uniqueName("sk_bridge_pg");
      const store = postgresStore({ pool, table });
      await store.migrate();
      return {
        store,
        async close() {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS "${table}"`);
          await pool.end();
        },
      };
    },
  });
});

const my = describeWithService("mysql");
my.describe("mysql", () => {
  runExpressSessionStoreSuite("mysql", {
    async open() {
      const pool = mysql.createPool({ uri: my.url, connectionLimit: 4 });
      const table = uniqueName("sk_bridge_my");
      const store = mysqlStore({ pool, table });
      await store.migrate();
      return {
        store,
        async close() {
          await store.close();
          await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
          await pool.end();
        },
      };
    },
  });
});

const redis = describeWithService("redis");
redis.describe("redis", () => {
  runExpressSessionStoreSuite("redis", {
    async open() {
      const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      const prefix = uniqueName("skb");
      const store = redisStore({ client, prefix });
      return {
        store,
        async close() {
          await store.close();
          await dropRedisKeys(client, prefix);
          await client.quit();
        },
      };
    },
  });
});
