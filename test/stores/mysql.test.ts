import mysql from "mysql2/promise";
import { afterAll, beforeAll, expect, it, describe as plainDescribe } from "vitest";
import { SessionConfigError, SessionStoreError } from "../../src/index.js";
import { mysqlSql } from "../../src/stores/mysql/sql.js";
import { type MysqlStore, mysqlStore } from "../../src/stores/mysql.js";
import { record, runStoreConformance } from "../conformance/store.case.js";
import { describeWithService, uniqueName } from "../helpers/services.js";

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

    it("times round-trip to the millisecond from 1970 to 9999", async () => {
      const store = mysqlStore({ pool, table: extra });
      await store.migrate();
      const edges = [0, 1, 999, 1000, 2 ** 31 * 1000 - 1, 2 ** 31 * 1000 + 1, 253_402_300_799_999];
      const random = Array.from({ length: 60 }, () => Math.floor(Math.random() * 253_402_300_799_999));
      const times = [...edges, ...random];
      const rows = times.map((t, i) =>
        record({ createdAt: t, lastActiveAt: times[(i + 1) % times.length] as number, expiresAt: null }),
      );
      await Promise.all(rows.map((r) => store.create(r)));
      for (const r of rows) {
        const got = await store.get(r.id, 0);
        expect([got?.createdAt, got?.lastActiveAt], `created ${r.createdAt}`).toEqual([r.createdAt, r.lastActiveAt]);
      }
    });

    it("before migrate(), operations fail with a SessionStoreError that says to migrate", async () => {
      const store = mysqlStore({ pool, table: uniqueName("sk_my_missing") });
      const error = await store.get(record().id, T0).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as SessionStoreError).store).toBe("mysql");
      expect((error as SessionStoreError).operation).toBe("get");
      expect((error as Error).message).toMatch(/does not exist; run store.migrate\(\)/);
    });

    it("close() leaves the app's pool open; a store from a URL ends its own pool", async () => {
      const onApp = mysqlStore({ pool, table: extra });
      await onApp.close();
      const [rows] = await pool.query<mysql.RowDataPacket[]>("SELECT 1 AS one");
      expect(rows[0]?.one).toBe(1);

      const own = mysqlStore({ uri: url, table: extra });
      await own.migrate();
      const r = record();
      expect(await own.create(r)).toBe(true);
      expect((await own.get(r.id, T0))?.id).toBe(r.id);
      await own.close();
      await expect(own.get(r.id, T0)).rejects.toThrow(/store is closed/);
    });

    it("pruneExpired returns 0 and deletes nothing while another server holds the prune lock", async () => {
      const store = mysqlStore({ pool, table: extra });
      await store.migrate();
      await pool.query(`TRUNCATE \`${extra}\``);
      for (let i = 0; i < 5; i++) await store.create(record({ expiresAt: T0 }));
      const holder = await pool.getConnection();
      const lock = mysqlSql(extra);
      try {
        const [got] = await holder.query<mysql.RowDataPacket[]>(lock.pruneLock);
        expect(got[0]?.ok).toBe(1);
        expect(await store.pruneExpired(T0 + 1, 100)).toBe(0);
        expect((await store.stats(T0 + 1, 1)).expired).toBe(5);
      } finally {
        await holder.query(lock.pruneUnlock);
        holder.release();
      }
      expect(await store.pruneExpired(T0 + 1, 100)).toBe(5);
    });

    it("two servers pruning at once together delete every expired row exactly once", async () => {
      const a = mysqlStore({ uri: url, table: extra });
      const b = mysqlStore({ uri: url, table: extra });
      try {
        await pool.query(`TRUNCATE \`${extra}\``);
        for (let i = 0; i < 300; i += 100) {
          await Promise.all(Array.from({ length: 100 }, () => a.create(record({ expiresAt: T0 }))));
        }
        const drain = async (s: MysqlStore) => {
          let n = 0;
          for (let round = 0; round < 100; round++) n += await s.pruneExpired(T0 + 1, 10);
          return n;
        };
        const [na, nb] = await Promise.all([drain(a), drain(b)]);
        expect(na + nb).toBe(300);
        expect((await a.stats(T0 + 1, 1)).total).toBe(0);
      } finally {
        await a.close();
        await b.close();
      }
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
