import mysql from "mysql2/promise";
import { afterAll, beforeAll, expect, it, describe as plainDescribe } from "vitest";
import { SessionConfigError, SessionError } from "../../src/index.js";
import { mysqlSql } from "../../src/stores/mysql/sql.js";
import { type MysqlStore, mysqlStore } from "../../src/stores/mysql.js";
import { type RawEdit, record, runStoreConformance } from "../conformance/store.case.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { DISTINCTIVE, expectNoValues, runSqlExtras } from "./sql-extras.case.js";

/** The UPDATE a tamper case makes behind the store's back: `[sql, values]`. */
function rawUpdate(table: string, id: string, change: RawEdit): [string, unknown[]] {
  const values: unknown[] = [];
  const sets: string[] = [];
  const set = (column: string, value: unknown, param = "?") => {
    values.push(value);
    sets.push(`${column} = ${param}`);
  };
  if (change.userId !== undefined) set("user_id", change.userId);
  if (change.createdAt !== undefined) {
    set("created_at", new Date(change.createdAt).toISOString().slice(0, 23).replace("T", " "));
  }
  if (change.secretHash !== undefined) set("secret_hash", change.secretHash);
  if (change.data !== undefined) set("data", Buffer.from(change.data));
  return [`UPDATE \`${table}\` SET ${sets.join(", ")} WHERE id = ?`, [...values, id]];
}

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
    // Its channel polls (up to 250 ms behind): the engine cases read right after a write.
    nearCache: false,
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
    editRaw: async (_store, id, change) => {
      const [sql, values] = rawUpdate(table, id, change);
      const [result] = await pool.query<mysql.ResultSetHeader>(sql, values);
      if (result.affectedRows !== 1) throw new Error(`editRaw: no row ${id}`);
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
      expect(ddl).toMatch(/id VARBINARY\(32\) NOT NULL/);
      expect(ddl).toMatch(/secret_hash VARBINARY\(64\) NOT NULL/);
      expect(ddl).not.toMatch(/DELETE|ALTER/); // a fresh schema: nothing that upgrades or deletes
      const [indexes] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY name",
        [extra],
      );
      expect(indexes.map((r) => String(r.name)).sort()).toEqual(["PRIMARY", `${extra}_expires_at_idx`, `${extra}_user_id_idx`]);
      const [comment] = await pool.query<mysql.RowDataPacket[]>(
        "SELECT TABLE_COMMENT AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        [extra],
      );
      expect(comment[0]?.c).toBe("sessionkit schema 2");
    });

    it("migrate() refuses a table a newer sessionkit migrated", async () => {
      const store = mysqlStore({ pool, table: extra });
      await store.migrate();
      await pool.query(`ALTER TABLE \`${extra}\` COMMENT = 'sessionkit schema 99'`);
      await expect(store.migrate()).rejects.toThrow(/schema 99, newer than/);
      await pool.query(`ALTER TABLE \`${extra}\` COMMENT = 'sessionkit schema 2'`);
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

    it("a user agent longer than its column fails without any bound value in the error", async () => {
      const store = mysqlStore({ pool, table: extra });
      await store.migrate();
      // TEXT holds 65 535 bytes: the server refuses the row, mysql2 would keep the whole INSERT.
      const r = record({ ...DISTINCTIVE, userAgent: `${DISTINCTIVE.userAgent} ${"x".repeat(70_000)}` });
      const error = await store.create(r).catch((e: unknown) => e);
      expectNoValues(error, [r.id, r.secretHash, ...Object.values(DISTINCTIVE)]);
      expect((error as Error).message).toMatch(/Data too long for column 'user_agent'/);
      expect(error).toMatchObject({ code: "ER_DATA_TOO_LONG", errno: 1406, sqlState: "22001" });
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
      exec: async (sql) => {
        const [rows] = await pool.query(sql);
        return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : [];
      },
      quote: (table) => `\`${table}\``,
      // The DDL of schema version 1, and two sessions keyed by the hash of an old-format token.
      v1Table: (table, comment) => [
        `CREATE TABLE \`${table}\` (id VARCHAR(64) NOT NULL, user_id VARCHAR(255) NULL, data LONGBLOB NOT NULL,
          version BIGINT NOT NULL, created_at DATETIME(3) NOT NULL, last_active_at DATETIME(3) NOT NULL, expires_at DATETIME(3) NULL,
          ip TEXT NULL, user_agent TEXT NULL, meta TEXT NULL, PRIMARY KEY (id), KEY \`${table}_user_id_idx\` (user_id),
          KEY \`${table}_expires_at_idx\` (expires_at)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
          ${comment ? "COMMENT='sessionkit schema 1'" : ""}`,
        `INSERT INTO \`${table}\` (id, user_id, data, version, created_at, last_active_at)
          VALUES (SHA2('old-alice', 256), 'old-alice', x'00', 1, NOW(3), NOW(3)), (SHA2('old-bob', 256), 'old-bob', x'00', 1, NOW(3), NOW(3))`,
      ],
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

  it("retries a deadlock victim, then throws a plain error with the driver's codes", async () => {
    const once = fakePool([deadlock], { affectedRows: 1 });
    expect(await mysqlStore({ pool: once.pool }).delete("a".repeat(32))).toBe(true);
    expect(once.sqls.length).toBe(2);

    const always = fakePool([deadlock, deadlock, deadlock], { affectedRows: 1 });
    const error = await mysqlStore({ pool: always.pool })
      .delete("a".repeat(32))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(SessionError); // the engine wraps it, once
    expect(error).toMatchObject({ message: "Deadlock found when trying to get lock", errno: 1213 });
  });

  it("a connection that failed mid-transaction is destroyed, never returned to the pool", async () => {
    const broken = Object.assign(new Error("Connection lost"), { errno: undefined });
    const fake = fakePool([undefined, broken], { affectedRows: 1 });
    await expect(mysqlStore({ pool: fake.pool }).deleteByUser("u")).rejects.toThrow(/^Connection lost$/);
    expect(fake.released).toEqual(["destroy"]);
  });

  it("drops the driver's sql and quoted values; keeps its codes and the store's own names", async () => {
    const driver = Object.assign(new Error(`Duplicate entry '${DISTINCTIVE.userId}' for key 'sessions_user_id_idx'`), {
      code: "ER_DUP_KEYNAME",
      errno: 1061,
      sqlState: "23000",
      sql: `INSERT INTO sessions VALUES ('${DISTINCTIVE.userId}', '${DISTINCTIVE.ip}', '${DISTINCTIVE.userAgent}')`,
    });
    const error = await mysqlStore({ pool: fakePool([driver], {}).pool })
      .create(record(DISTINCTIVE))
      .catch((e: unknown) => e);
    expectNoValues(error, Object.values(DISTINCTIVE));
    expect(error).toMatchObject({
      message: "Duplicate entry '…' for key 'sessions_user_id_idx'",
      code: "ER_DUP_KEYNAME",
      errno: 1061,
      sqlState: "23000",
    });
  });

  it("compare-and-set reads the matched rows, whatever the FOUND_ROWS flag", async () => {
    const unchanged = fakePool([], { affectedRows: 0, info: "Rows matched: 1  Changed: 0  Warnings: 0" });
    expect(await mysqlStore({ pool: unchanged.pool }).touch("a".repeat(32), "c".repeat(64), T0, T0)).toBe(true);
    const gone = fakePool([], { affectedRows: 0, info: "Rows matched: 0  Changed: 0  Warnings: 0" });
    expect(await mysqlStore({ pool: gone.pool }).touch("a".repeat(32), "c".repeat(64), T0, T0)).toBe(false);
  });
});
