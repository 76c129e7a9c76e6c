/**
 * The SQL server stores as the multi-server and fault tests drive them: one entry per
 * backend, so each test is written once and run for both.
 */
import mysql from "mysql2/promise";
import pg from "pg";
import type { SessionStore } from "../../src/index.js";
import { mysqlStore } from "../../src/stores/mysql.js";
import { postgresStore } from "../../src/stores/postgres.js";

export type SqlStoreKind = "postgres" | "mysql";

/** A direct connection for test setup: run SQL, hold a table lock, drop tables. */
export interface SqlAdmin {
  exec(sql: string): Promise<void>;
  /** Holds a lock that blocks the store's reads until the returned function releases it. */
  lockTable(table: string): Promise<() => Promise<void>>;
  dropTable(table: string): Promise<void>;
  end(): Promise<void>;
}

export interface SqlStoreOptions {
  queryTimeout?: number;
  /** How long opening a connection may take, in ms. */
  connectTimeout?: number;
}

export interface SqlBackend {
  kind: SqlStoreKind;
  /** A store on its own pool, created from a URL. */
  store(url: string, table: string, options?: SqlStoreOptions): SessionStore & { migrate(): Promise<unknown> };
  admin(url: string): SqlAdmin;
  /** `url` with a user the server does not know. */
  unknownUser(url: string): string;
}

const withUser = (url: string, user: string) => {
  const u = new URL(url);
  u.username = user;
  u.password = "wrong-password";
  return u.toString();
};

export const sqlBackends: Record<SqlStoreKind, SqlBackend> = {
  postgres: {
    kind: "postgres",
    store: (url, table, options = {}) =>
      postgresStore({
        connectionString: url,
        table,
        queryTimeout: options.queryTimeout,
        poolOptions: { connectionTimeoutMillis: options.connectTimeout ?? 5000 },
      }),
    admin(url) {
      const pool = new pg.Pool({ connectionString: url, max: 3 });
      return {
        exec: async (sql) => {
          await pool.query(sql);
        },
        async lockTable(table) {
          const client = await pool.connect();
          await client.query("BEGIN");
          await client.query(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
          return async () => {
            await client.query("ROLLBACK");
            client.release();
          };
        },
        dropTable: async (table) => {
          await pool.query(`DROP TABLE IF EXISTS "${table}"`);
        },
        end: () => pool.end(),
      };
    },
    unknownUser: (url) => withUser(url, "sessionkit_no_such_role"),
  },
  mysql: {
    kind: "mysql",
    store: (url, table, options = {}) =>
      mysqlStore({
        uri: url,
        table,
        queryTimeout: options.queryTimeout,
        poolOptions: { connectTimeout: options.connectTimeout ?? 5000 },
      }),
    admin(url) {
      const pool = mysql.createPool({ uri: url, connectionLimit: 3 });
      return {
        exec: async (sql) => {
          await pool.query(sql);
        },
        async lockTable(table) {
          const conn = await pool.getConnection();
          await conn.query(`LOCK TABLES \`${table}\` WRITE`);
          return async () => {
            await conn.query("UNLOCK TABLES");
            conn.release();
          };
        },
        dropTable: async (table) => {
          await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
        },
        end: () => pool.end(),
      };
    },
    unknownUser: (url) => withUser(url, "sessionkit_no_such_user"),
  },
};
