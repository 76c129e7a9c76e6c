import pg from "pg";
import { afterAll, beforeAll, expect, it, describe as plainDescribe } from "vitest";
import { createSessions, SessionConfigError, SessionError } from "../../src/index.js";
import { postgresSql } from "../../src/stores/postgres/sql.js";
import { type PostgresStore, postgresStore } from "../../src/stores/postgres.js";
import { type RawEdit, record, runStoreConformance } from "../conformance/store.case.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { DISTINCTIVE, expectNoValues, runSqlExtras } from "./sql-extras.case.js";

/** The UPDATE a tamper case makes behind the store's back: `[sql, values]`. */
function rawUpdate(table: string, id: string, change: RawEdit): [string, unknown[]] {
  const values: unknown[] = [id];
  const sets: string[] = [];
  const set = (column: string, value: unknown, wrap = (param: string) => param) => {
    values.push(value);
    sets.push(`${column} = ${wrap(`$${values.length}`)}`);
  };
  if (change.userId !== undefined) set("user_id", change.userId);
  if (change.createdAt !== undefined) set("created_at", change.createdAt, (p) => `to_timestamp(${p}::int8 / 1000.0)`);
  if (change.secretHash !== undefined) set("secret_hash", change.secretHash);
  if (change.data !== undefined) set("data", Buffer.from(change.data));
  return [`UPDATE "${table}" SET ${sets.join(", ")} WHERE id = $1`, values];
}

const { url, describe } = describeWithService("postgres");
const T0 = 1_700_000_000_123;
const SECRET_48 = "postgres-test-secret-0123456789abcdefghijklmnopqr";

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
    editRaw: async (_store, id, change) => {
      const [sql, values] = rawUpdate(table, id, change);
      const { rowCount } = await pool.query(sql, values);
      if (rowCount !== 1) throw new Error(`editRaw: no row ${id}`);
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
      expect(ddl).toMatch(/secret_hash text NOT NULL/);
      expect(ddl).not.toMatch(/DELETE|ALTER/); // a fresh schema: nothing that upgrades or deletes
      const comment = await pool.query("SELECT obj_description(to_regclass($1), 'pg_class') AS c", [`public."${extra}"`]);
      expect(comment.rows[0].c).toBe("sessionkit schema 2");
    });

    it("migrate() refuses a table a newer sessionkit migrated", async () => {
      const store = postgresStore({ pool, table: extra });
      await store.migrate();
      await pool.query(`COMMENT ON TABLE "${extra}" IS 'sessionkit schema 99'`);
      await expect(store.migrate()).rejects.toThrow(/schema 99, newer than/);
      await pool.query(`COMMENT ON TABLE "${extra}" IS 'sessionkit schema 2'`);
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

    it("near-cache: an update carries its own NOTIFY; another instance's cache drops it, no second query", async () => {
      const notifyTable = `${extra}_n`;
      const texts: string[] = [];
      // The app's pool, seen through a wrapper that records every query (LISTEN has its own client).
      const spied = Object.create(pool, {
        query: {
          value: (config: string | { text: string }, ...rest: unknown[]) => {
            texts.push(typeof config === "string" ? config : config.text);
            return (pool.query as (...a: unknown[]) => unknown)(config, ...rest);
          },
        },
      }) as pg.Pool;
      const store = postgresStore({ pool: spied, table: notifyTable });
      await store.migrate();
      const make = () => createSessions({ store, secrets: [SECRET_48], cache: { maxEntries: 10, ttl: "1m" } });
      const [a, b] = [make(), make()];
      try {
        const s = await a.load(new Headers());
        s.set("cart", ["fig"]);
        const cookie = (await a.commit(s)).getSetCookie()[0]?.split(";")[0] as string;
        const request = new Headers({ cookie });
        // Until b's LISTEN is up its loads read the store; then a second load is a hit.
        const deadline = Date.now() + 5_000;
        for (;;) {
          await b.load(request);
          const before = texts.length;
          await b.load(request);
          if (texts.length === before) break;
          if (Date.now() > deadline) throw new Error("b's near-cache never came up");
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        texts.length = 0;
        const w = await a.load(request);
        w.set("cart", ["fig", "plum"]);
        await a.commit(w);
        expect(texts.filter((t) => t.includes("pg_notify"))).toHaveLength(1);
        expect(texts.some((t) => t.startsWith("WITH updated AS (UPDATE") && t.includes("pg_notify($13, $14)"))).toBe(true);
        let seen: unknown;
        for (let i = 0; i < 100 && JSON.stringify(seen) !== '["fig","plum"]'; i++) {
          seen = (await b.load(request)).get("cart");
          if (JSON.stringify(seen) !== '["fig","plum"]') await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(seen).toEqual(["fig", "plum"]);
      } finally {
        await a.close();
        await b.close();
        await pool.query(`DROP TABLE IF EXISTS "${notifyTable}"`);
      }
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
      exec: async (sql) => (await pool.query(sql)).rows,
      quote: (table) => `"${table}"`,
      // The DDL of schema version 1, and two sessions keyed by the hash of an old-format token.
      v1Table: (table, comment) => [
        `CREATE TABLE "${table}" (id text PRIMARY KEY, user_id text, data bytea NOT NULL, version bigint NOT NULL,
          created_at timestamptz NOT NULL, last_active_at timestamptz NOT NULL, expires_at timestamptz, ip text, user_agent text, meta text)`,
        `CREATE INDEX "${table}_user_id_idx" ON "${table}" (user_id)`,
        `CREATE INDEX "${table}_expires_at_idx" ON "${table}" (expires_at)`,
        ...(comment ? [`COMMENT ON TABLE "${table}" IS 'sessionkit schema 1'`] : []),
        `INSERT INTO "${table}" (id, user_id, data, version, created_at, last_active_at)
          SELECT encode(sha256(u::bytea), 'hex'), u, '\\x00', 1, now(), now() FROM unnest(ARRAY['old-alice', 'old-bob']) AS u`,
      ],
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

  it("retries a deadlock victim, then throws a plain error with the driver's code", async () => {
    const deadlock = Object.assign(new Error("deadlock detected"), { code: "40P01" });
    const once = fakePool([deadlock]);
    expect(await postgresStore({ pool: once.pool }).delete("a".repeat(32))).toBe(true);
    expect(once.texts.length).toBe(2);

    const always = fakePool([deadlock, deadlock, deadlock, deadlock]);
    const error = await postgresStore({ pool: always.pool })
      .delete("a".repeat(32))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(SessionError); // the engine wraps it, once
    expect((error as Error).message).toBe("deadlock detected");
    expect((error as { code?: unknown }).code).toBe("40P01");
    expect(always.texts.length).toBe(3);
  });

  it("does not retry other errors", async () => {
    const other = Object.assign(new Error("syntax error"), { code: "42601" });
    const fake = fakePool([other]);
    await expect(postgresStore({ pool: fake.pool }).delete("a".repeat(32))).rejects.toThrow(/^syntax error$/);
    expect(fake.texts.length).toBe(1);
  });

  it("drops the driver's detail and quoted values; keeps its codes and the store's own names", async () => {
    // What pg reports for a value too long for a column: the row in `detail`, the value in `where`.
    const driver = Object.assign(new Error(`invalid input syntax for type bigint: "${DISTINCTIVE.userId}"`), {
      code: "22P02",
      detail: `Failing row contains (${DISTINCTIVE.userId}, ${DISTINCTIVE.ip}, ${DISTINCTIVE.userAgent}).`,
      where: `unnamed portal parameter $3 = '${DISTINCTIVE.userAgent}'`,
    });
    const error = await postgresStore({ pool: fakePool([driver]).pool })
      .create(record(DISTINCTIVE))
      .catch((e: unknown) => e);
    expectNoValues(error, Object.values(DISTINCTIVE));
    expect((error as Error).message).toBe('invalid input syntax for type bigint: "…"');
    expect((error as { code?: unknown }).code).toBe("22P02");
    const named = Object.assign(
      new Error('null value in column "secret_hash" of relation "sessions" violates not-null constraint'),
      {
        code: "23502",
      },
    );
    const kept = await postgresStore({ pool: fakePool([named]).pool })
      .create(record())
      .catch((e: unknown) => e);
    expect((kept as Error).message).toBe(named.message);
  });

  it("schemaSql() needs no connection: the pool is made on the first query", () => {
    const store = postgresStore({ connectionString: "postgres://nobody@127.0.0.1:1/none" });
    expect(store.schemaSql()).toContain('CREATE TABLE IF NOT EXISTS "public"."sessions"');
  });
});
