import pg from "pg";
import { afterAll, beforeAll, expect, it, describe as plainDescribe } from "vitest";
import { SessionConfigError, SessionStoreError } from "../../src/index.js";
import { postgresSql } from "../../src/stores/postgres/sql.js";
import { type PostgresStore, postgresStore } from "../../src/stores/postgres.js";
import { record, runStoreConformance } from "../conformance/store.case.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { runSqlExtras } from "./sql-extras.case.js";

const { url, describe } = describeWithService("postgres");
const T0 = 1_700_000_000_123;

describe(`postgres store (${url})`, () => {
  const table = uniqueName("sk_pg");
  let pool: pg.Pool;
  let migrated = false;

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, max: 8 });
  });
  afterAll(async () => {
    await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });

  runStoreConformance("postgres", {
    makeStore: async () => {
      const store = postgresStore({ pool, table });
      if (!migrated) {
        await store.migrate();
        migrated = true;
      }
      return store;
    },
    dropStore: async () => {
      await pool.query(`TRUNCATE "${table}"`);
    },
  });

  describe("postgres extras", () => {
    const extra = uniqueName("sk_pg_x");
    afterAll(async () => {
      await pool.query(`DROP TABLE IF EXISTS "${extra}"`);
      await pool.query(`DROP SCHEMA IF EXISTS "${extra}_s" CASCADE`);
    });

    it("refuses table and schema names that are not plain identifiers", () => {
      for (const bad of ['x"; DROP TABLE users; --', "a.b", "1abc", "", "a".repeat(49), "sp ace"]) {
        expect(() => postgresStore({ pool, table: bad })).toThrow(SessionConfigError);
        expect(() => postgresStore({ pool, schema: bad })).toThrow(/schema must be a plain identifier/);
      }
      expect(() => postgresStore({} as never)).toThrow(/exactly one of/);
    });

    it("migrate() is idempotent, safe when run concurrently, and schemaSql() is its DDL", async () => {
      const stores = [0, 1, 2].map(() => postgresStore({ pool, table: extra }));
      await Promise.all(stores.map((s) => s.migrate()));
      await (stores[0] as PostgresStore).migrate();
      const ddl = (stores[0] as PostgresStore).schemaSql();
      expect(ddl).toContain(`CREATE TABLE IF NOT EXISTS "public"."${extra}"`);
      expect(ddl).toMatch(/data bytea NOT NULL/);
      expect(ddl).toMatch(/expires_at timestamptz/);
      const { rows } = await pool.query("SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname", [extra]);
      expect(rows.map((r) => r.indexname)).toEqual([`${extra}_expires_at_idx`, `${extra}_pkey`, `${extra}_user_id_idx`]);
      const comment = await pool.query("SELECT obj_description(to_regclass($1), 'pg_class') AS c", [`public."${extra}"`]);
      expect(comment.rows[0].c).toBe("sessionkit schema 1");
    });

    it("migrate() refuses a table a newer sessionkit migrated", async () => {
      const store = postgresStore({ pool, table: extra });
      await store.migrate();
      await pool.query(`COMMENT ON TABLE "${extra}" IS 'sessionkit schema 99'`);
      await expect(store.migrate()).rejects.toThrow(/schema 99, newer than/);
      await pool.query(`COMMENT ON TABLE "${extra}" IS 'sessionkit schema 1'`);
    });

    it("a custom schema is created by migrate() and used by every query", async () => {
      const store = postgresStore({ pool, table: "sessions", schema: `${extra}_s` });
      await store.migrate();
      const r = record({ userId: "u" });
      expect(await store.create(r)).toBe(true);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${extra}_s"."sessions"`);
      expect(rows[0].n).toBe(1);
      expect((await store.get(r.id, T0))?.userId).toBe("u");
    });

    runSqlExtras({
      storeName: "postgres",
      table: extra,
      missingPrefix: "sk_pg_missing",
      onPool: (table) => postgresStore({ pool, table }),
      fromUrl: (table) => postgresStore({ connectionString: url, table }),
      selectOne: async () => (await pool.query("SELECT 1 AS one")).rows[0].one,
      truncate: async (table) => {
        await pool.query(`TRUNCATE "${table}"`);
      },
      holdPruneLock: async (table) => {
        const key = postgresSql("public", table).pruneLockKey;
        const holder = await pool.connect();
        const release = async () => {
          await holder.query("ROLLBACK");
          holder.release();
        };
        try {
          await holder.query("BEGIN");
          expect((await holder.query(`SELECT pg_try_advisory_xact_lock(${key}) AS ok`)).rows[0].ok).toBe(true);
        } catch (error) {
          await release();
          throw error;
        }
        return release;
      },
    });
  });
});

plainDescribe("postgres store without a server", () => {
  const fakePool = (fail: unknown[]) => {
    const texts: string[] = [];
    return {
      texts,
      pool: {
        async query(config: { text: string }) {
          texts.push(config.text);
          const error = fail.shift();
          if (error) throw error;
          return { rows: [], rowCount: 1 };
        },
        end: async () => {},
      },
    };
  };

  it("retries a deadlock victim, then reports a SessionStoreError keeping the cause", async () => {
    const deadlock = Object.assign(new Error("deadlock detected"), { code: "40P01" });
    const once = fakePool([deadlock]);
    expect(await postgresStore({ pool: once.pool }).delete("a".repeat(64))).toBe(true);
    expect(once.texts.length).toBe(2);

    const always = fakePool([deadlock, deadlock, deadlock, deadlock]);
    const error = await postgresStore({ pool: always.pool })
      .delete("a".repeat(64))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).cause).toBe(deadlock);
    expect(always.texts.length).toBe(3);
  });

  it("does not retry other errors", async () => {
    const other = Object.assign(new Error("syntax error"), { code: "42601" });
    const fake = fakePool([other]);
    await expect(postgresStore({ pool: fake.pool }).delete("a".repeat(64))).rejects.toThrow(/delete failed: syntax error/);
    expect(fake.texts.length).toBe(1);
  });

  it("schemaSql() needs no connection: the pool is made on the first query", () => {
    const store = postgresStore({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    expect(store.schemaSql()).toContain('CREATE TABLE IF NOT EXISTS "public"."sessions"');
  });
});
