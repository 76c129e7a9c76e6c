import mysql from "mysql2/promise";
import { afterAll, beforeAll, expect, it, describe as plainDescribe } from "vitest";
import { SessionConfigError, SessionStoreError } from "../../src/index.js";
import { mysqlSql } from "../../src/stores/mysql/sql.js";
import { type MysqlStore, mysqlStore } from "../../src/stores/mysql.js";
import { record, runStoreConformance } from "../conformance/store.case.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { runSqlExtras } from "./sql-extras.case.js";

const { url, describe } = describeWithService("mysql");
const T0 = 1_700_000_000_123;

describe(`mysql store on MariaDB (${url})`, () => {
  const table = uniqueName("sk_my");
  let pool: mysql.Pool;
  let migrated = false;

  beforeAll(() => {
    pool = mysql.createPool({ uri: url, connectionLimit: 8 });
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
    await pool.end();
  });

  runStoreConformance("mysql", {
    makeStore: async () => {
      const store = mysqlStore({ pool, table });
      if (!migrated) {
        await store.migrate();
        migrated = true;
      }
      return store;
    },
    dropStore: async () => {
      await pool.query(`TRUNCATE \`${table}\``);
    },
  });

  describe("mysql extras", () => {
    const extra = uniqueName("sk_my_x");
    afterAll(async () => {
      await pool.query(`DROP TABLE IF EXISTS \`${extra}\``);
    });

    it("refuses table names that are not plain identifiers", () => {
      for (const bad of ["x`; DROP TABLE users; --", "a.b", "1abc", "", "a".repeat(49), "sp ace"]) {
        expect(() => mysqlStore({ pool, table: bad })).toThrow(SessionConfigError);
      }
      expect(() => mysqlStore({} as never)).toThrow(/exactly one of/);
      expect(() => mysqlStore({ pool, queryTimeout: 0 })).toThrow(/queryTimeout/);
    });

    it("migrate() is idempotent, safe when run concurrently, and schemaSql() is its DDL", async () => {
      const stores = [0, 1, 2].map(() => mysqlStore({ pool, table: extra }));
      await Promise.all(stores.map((s) => s.migrate()));
      await (stores[0] as MysqlStore).migrate();
      const ddl = (stores[0] as MysqlStore).schemaSql();
      expect(ddl).toContain(`CREATE TABLE IF NOT EXISTS \`${extra}\``);
      expect(ddl).toMatch(/data LONGBLOB NOT NULL/);
      expect(ddl).toMatch(/expires_at DATETIME\(3\)/);
      const [indexes] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY name",
        [extra],
      );
      expect(indexes.map((r) => String(r.name)).sort()).toEqual(["PRIMARY", `${extra}_expires_at_idx`, `${extra}_user_id_idx`]);
      const [comment] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT TABLE_COMMENT AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        [extra],
      );
      expect(comment[0]?.c).toBe("sessionkit schema 1");
    });

    it("migrate() refuses a table a newer sessionkit migrated", async () => {
      const store = mysqlStore({ pool, table: extra });
      await store.migrate();
      await pool.query(`ALTER TABLE \`${extra}\` COMMENT = 'sessionkit schema 99'`);
      await expect(store.migrate()).rejects.toThrow(/schema 99, newer than/);
      await pool.query(`ALTER TABLE \`${extra}\` COMMENT = 'sessionkit schema 1'`);
    });

    it("times are UTC whatever the connection's time zone", async () => {
      const shifted = mysql.createPool({ uri: url, connectionLimit: 1, timezone: "+05:30" });
      try {
        await shifted.query("SET time_zone = '-07:00'");
        const store = mysqlStore({ pool: shifted, table: extra });
        await store.migrate();
        const r = record({ expiresAt: T0 + 1000 });
        await store.create(r);
        expect((await store.get(r.id, T0))?.createdAt).toBe(T0);
        const [rows] = await pool.query<mysql.RowDataPacket[]>(
          `SELECT DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s.%f') AS c FROM \`${extra}\` WHERE id = ?`,
          [r.id],
        );
        expect(rows[0]?.c).toBe("2023-11-14 22:13:20.123000");
        expect(await store.get(r.id, T0 + 1000)).toBeNull();
      } finally {
        await shifted.end();
      }
    });

    it("user ids are case-sensitive", async () => {
      const store = mysqlStore({ pool, table: extra });
      await store.migrate();
      const r = record({ userId: "Alice" });
      await store.create(r);
      expect(await store.listByUser("alice", T0)).toEqual([]);
      expect(await store.deleteByUser("ALICE")).toEqual([]);
      expect((await store.listByUser("Alice", T0)).map((s) => s.id)).toEqual([r.id]);
    });

    runSqlExtras({
      storeName: "mysql",
      table: extra,
      missingPrefix: "sk_my_missing",
      onPool: (table) => mysqlStore({ pool, table }),
      fromUrl: (table) => mysqlStore({ uri: url, table }),
      selectOne: async () => {
        const [rows] = await pool.query<mysql.RowDataPacket[]>("SELECT 1 AS one");
        return rows[0]?.one;
      },
      truncate: async (table) => {
        await pool.query(`TRUNCATE \`${table}\``);
      },
      holdPruneLock: async (table) => {
        const holder = await pool.getConnection();
        const lock = mysqlSql(table);
        const release = async () => {
          await holder.query(lock.pruneUnlock);
          holder.release();
        };
        try {
          const [got] = await holder.query<mysql.RowDataPacket[]>(lock.pruneLock);
          expect(got[0]?.ok).toBe(1);
        } catch (error) {
          await release();
          throw error;
        }
        return release;
      },
    });
  });
});

plainDescribe("mysql store without a server", () => {
  const fakePool = (fail: unknown[], result: unknown) => {
    const sqls: string[] = [];
    const query = async (options: { sql: string }): Promise<[unknown, unknown]> => {
      sqls.push(options.sql);
      const error = fail.shift();
      if (error) throw error;
      return [result, []];
    };
    const released: string[] = [];
    return {
      sqls,
      released,
      pool: {
        query,
        async getConnection() {
          return { query, release: () => released.push("release"), destroy: () => released.push("destroy") };
        },
        end: async () => {},
      },
    };
  };
  const deadlock = Object.assign(new Error("Deadlock found when trying to get lock"), { errno: 1213 });

  it("retries a deadlock victim, then reports a SessionStoreError keeping the cause", async () => {
    const once = fakePool([deadlock], { affectedRows: 1 });
    expect(await mysqlStore({ pool: once.pool }).delete("a".repeat(64))).toBe(true);
    expect(once.sqls.length).toBe(2);

    const always = fakePool([deadlock, deadlock, deadlock], { affectedRows: 1 });
    const error = await mysqlStore({ pool: always.pool })
      .delete("a".repeat(64))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).cause).toBe(deadlock);
  });

  it("a connection that failed mid-transaction is destroyed, never returned to the pool", async () => {
    const broken = Object.assign(new Error("Connection lost"), { errno: undefined });
    const fake = fakePool([undefined, broken], { affectedRows: 1 });
    await expect(mysqlStore({ pool: fake.pool }).rotate("a".repeat(64), 1, record())).rejects.toThrow(
      /rotate failed: Connection lost/,
    );
    expect(fake.released).toEqual(["destroy"]);
  });

  it("compare-and-set reads the matched rows, whatever the FOUND_ROWS flag", async () => {
    const unchanged = fakePool([], { affectedRows: 0, info: "Rows matched: 1  Changed: 0  Warnings: 0" });
    expect(await mysqlStore({ pool: unchanged.pool }).touch("a".repeat(64), T0, T0)).toBe(true);
    const gone = fakePool([], { affectedRows: 0, info: "Rows matched: 0  Changed: 0  Warnings: 0" });
    expect(await mysqlStore({ pool: gone.pool }).touch("a".repeat(64), T0, T0)).toBe(false);
  });
});
