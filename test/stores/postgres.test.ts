import pg from "pg";
import { afterAll, beforeAll, expect, it, describe as plainDescribe } from "vitest";
import { SessionConfigError, SessionStoreError } from "../../src/index.js";
import { type PostgresStore, postgresStore } from "../../src/stores/postgres.js";
import { record, runStoreConformance } from "../conformance/store.case.js";
import { describeWithService, uniqueName } from "../helpers/services.js";

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

    it("times round-trip to the millisecond from 1970 to 9999", async () => {
      const store = postgresStore({ pool, table: extra });
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
      const store = postgresStore({ pool, table: uniqueName("sk_pg_missing") });
      const error = await store.get(record().id, T0).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect((error as SessionStoreError).store).toBe("postgres");
      expect((error as SessionStoreError).operation).toBe("get");
      expect((error as Error).message).toMatch(/does not exist; run store.migrate\(\)/);
    });

    it("close() leaves the app's pool open; a store from a URL ends its own pool", async () => {
      const onApp = postgresStore({ pool, table: extra });
      await onApp.close();
      expect((await pool.query("SELECT 1 AS one")).rows[0].one).toBe(1);

      const own = postgresStore({ connectionString: url, table: extra });
      await own.migrate();
      const r = record();
      expect(await own.create(r)).toBe(true);
      expect((await own.get(r.id, T0))?.id).toBe(r.id);
      await own.close();
      await expect(own.get(r.id, T0)).rejects.toThrow(/store is closed/);
    });

    it("pruneExpired returns 0 and deletes nothing while another server holds the prune lock", async () => {
      const store = postgresStore({ pool, table: extra });
      await store.migrate();
      await pool.query(`TRUNCATE "${extra}"`);
      for (let i = 0; i < 5; i++) await store.create(record({ expiresAt: T0 }));
      const { postgresSql } = await import("../../src/stores/postgres/sql.js");
      const key = postgresSql("public", extra).pruneLockKey;
      const holder = await pool.connect();
      try {
        await holder.query("BEGIN");
        expect((await holder.query(`SELECT pg_try_advisory_xact_lock(${key}) AS ok`)).rows[0].ok).toBe(true);
        expect(await store.pruneExpired(T0 + 1, 100)).toBe(0);
        expect((await store.stats(T0 + 1, 1)).expired).toBe(5);
      } finally {
        await holder.query("ROLLBACK");
        holder.release();
      }
      expect(await store.pruneExpired(T0 + 1, 100)).toBe(5);
    });

    it("two servers pruning at once never delete the same rows twice and together delete all", async () => {
      const a = postgresStore({ connectionString: url, table: extra });
      const b = postgresStore({ connectionString: url, table: extra });
      try {
        await pool.query(`TRUNCATE "${extra}"`);
        for (let i = 0; i < 300; i += 100) {
          await Promise.all(Array.from({ length: 100 }, () => a.create(record({ expiresAt: T0 }))));
        }
        const drain = async (s: PostgresStore) => {
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
