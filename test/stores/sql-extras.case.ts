/**
 * The SQL server store cases beyond the conformance suite that hold for PostgreSQL and MySQL
 * alike, written once and run by `postgres.test.ts` and `mysql.test.ts` inside their own
 * extras `describe` (which owns the pool and drops the table). What differs between the two
 * (quoting, how the prune lock is held) comes in through the options; cases only one of them
 * can run stay in that file.
 */
import { inspect } from "node:util";
import { expect, it } from "vitest";
import { type MigrateResult, SessionError, type SessionStore } from "../../src/index.js";
import { record } from "../conformance/store.case.js";
import { uniqueName } from "../helpers/services.js";

const T0 = 1_700_000_000_123;

type SqlStore = SessionStore & { migrate(): Promise<MigrateResult> };

/** Values no message about a failure may contain (the store bound them to the statement). */
export const DISTINCTIVE = {
  userId: "user-7f3a9c-distinctive",
  ip: "198.51.100.77",
  userAgent: "AgentSmith/9.9 (distinctive)",
  meta: '{"device":"distinctive-phone"}',
};

/** Asserts that `error` is a plain store error whose message and whole cause chain contain none of `values`. */
export function expectNoValues(error: unknown, values: readonly string[]) {
  expect(error).toBeInstanceOf(Error);
  // Stores throw plain errors; the engine wraps them once in SessionStoreError.
  expect(error).not.toBeInstanceOf(SessionError);
  const text = `${(error as Error).message}\n${inspect(error, { depth: 10 })}`;
  for (const value of values) expect(text).not.toContain(value);
}

export interface SqlExtrasOptions {
  /** `SessionStoreError.store` of this store. */
  storeName: "postgres" | "mysql";
  /** The table the cases share; the caller drops it. */
  table: string;
  /** Start of the name of a table that never exists (`uniqueName(missingPrefix)`). */
  missingPrefix: string;
  /** A store on the app's pool (read when a test runs: the suite makes the pool in `beforeAll`). */
  onPool: (table: string) => SqlStore;
  /** A store that makes and owns its pool from the URL. */
  fromUrl: (table: string) => SqlStore;
  /** `SELECT 1` on the app's pool: the number it returned. */
  selectOne: () => Promise<number>;
  /** Empties `table` through the app's pool. */
  truncate: (table: string) => Promise<void>;
  /** Takes the prune lock for `table` on a connection of the app's pool; the returned function lets it go. */
  holdPruneLock: (table: string) => Promise<() => Promise<void>>;
  /** Runs SQL on the app's pool; returns the rows. */
  exec: (sql: string) => Promise<Array<Record<string, unknown>>>;
  /** The statements that make `table` as schema version 1 made it (with its version comment when `comment`). */
  v1Table: (table: string, comment: boolean) => string[];
  /** `table` quoted for this dialect. */
  quote: (table: string) => string;
}

export function runSqlExtras(options: SqlExtrasOptions) {
  const { table } = options;

  it("times round-trip to the millisecond from 1970 to 9999", async () => {
    const store = options.onPool(table);
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

  it("before migrate(), operations fail with an error that says to migrate (the engine wraps it once)", async () => {
    const store = options.onPool(uniqueName(options.missingPrefix));
    const error = await store.get(record().id, T0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(SessionError);
    expect((error as Error).message).toMatch(/does not exist; run store.migrate\(\)/);
    expect((error as Error).name).toBe("SqlStoreError");
  });

  it("migrate() reports created, then current", async () => {
    const fresh = uniqueName(`${options.missingPrefix}_new`);
    const store = options.onPool(fresh);
    try {
      expect(await store.migrate()).toEqual({ action: "created", from: 0, to: 2 });
      expect(await store.migrate()).toEqual({ action: "current", from: 2, to: 2 });
    } finally {
      await options.exec(`DROP TABLE IF EXISTS ${options.quote(fresh)}`);
    }
  });

  for (const comment of [true, false]) {
    it(`from a version 1 table with sessions${comment ? "" : " and no version comment"}: the upgrade ends the old sessions and adds secret_hash`, async () => {
      const old = uniqueName(`${options.missingPrefix}_v1`);
      try {
        for (const sql of options.v1Table(old, comment)) await options.exec(sql);
        const store = options.onPool(old);
        expect(await store.migrate()).toEqual({ action: "upgraded", from: 1, to: 2 });
        expect((await store.stats(T0, 10)).total).toBe(0); // old sessions simply end
        const r = record({ userId: "new" });
        expect(await store.create(r)).toBe(true);
        expect((await store.get(r.id, T0))?.secretHash).toBe(r.secretHash);
        expect(await store.touch(r.id, r.secretHash, T0 + 1, null)).toBe(true);
        // A second server migrating afterwards changes nothing and deletes no new session.
        expect(await options.onPool(old).migrate()).toEqual({ action: "current", from: 2, to: 2 });
        expect((await store.get(r.id, T0))?.id).toBe(r.id);
      } finally {
        await options.exec(`DROP TABLE IF EXISTS ${options.quote(old)}`);
      }
    });
  }

  it("migrate() refuses a table of the same name that is not sessionkit's, and deletes nothing", async () => {
    const foreign = uniqueName(`${options.missingPrefix}_foreign`);
    try {
      await options.exec(`CREATE TABLE ${options.quote(foreign)} (sid VARCHAR(64) PRIMARY KEY, sess TEXT)`);
      await options.exec(`INSERT INTO ${options.quote(foreign)} (sid, sess) VALUES ('a', '{}')`);
      await expect(options.onPool(foreign).migrate()).rejects.toThrow(/not created by sessionkit.*nothing was changed/);
      const rows = await options.exec(`SELECT count(*) AS n FROM ${options.quote(foreign)}`);
      expect(Number(rows[0]?.n)).toBe(1);
    } finally {
      await options.exec(`DROP TABLE IF EXISTS ${options.quote(foreign)}`);
    }
  });

  it("a failing write carries no bound value in its message or cause chain", async () => {
    const store = options.onPool(table);
    await store.migrate();
    // NOT NULL violated: PostgreSQL's detail would list the whole row, mysql2's `sql` inlines every value.
    const r = record({ ...DISTINCTIVE, secretHash: null as never });
    const error = await store.create(r).catch((e: unknown) => e);
    expectNoValues(error, [r.id, ...Object.values(DISTINCTIVE)]);
    expect((error as { code?: unknown }).code).toBeTypeOf("string");
    const stored = record(DISTINCTIVE);
    await store.create(stored);
    const update = await store.update({ ...stored, secretHash: null as never, version: 2 }, 1).catch((e: unknown) => e);
    expectNoValues(update, [stored.id, stored.secretHash, ...Object.values(DISTINCTIVE)]);
  });

  it("close() leaves the app's pool open; a store from a URL ends its own pool", async () => {
    const onApp = options.onPool(table);
    await onApp.close();
    expect(await options.selectOne()).toBe(1);

    const own = options.fromUrl(table);
    await own.migrate();
    const r = record();
    expect(await own.create(r)).toBe(true);
    expect((await own.get(r.id, T0))?.id).toBe(r.id);
    await own.close();
    await expect(own.get(r.id, T0)).rejects.toThrow(/store is closed/);
  });

  it("pruneExpired returns 0 and deletes nothing while another server holds the prune lock", async () => {
    const store = options.onPool(table);
    await store.migrate();
    await options.truncate(table);
    for (let i = 0; i < 5; i++) await store.create(record({ expiresAt: T0 }));
    const release = await options.holdPruneLock(table);
    try {
      expect(await store.pruneExpired(T0 + 1, 100)).toBe(0);
      expect((await store.stats(T0 + 1, 1)).expired).toBe(5);
    } finally {
      await release();
    }
    expect(await store.pruneExpired(T0 + 1, 100)).toBe(5);
  });

  it("two servers pruning at once together delete every expired row exactly once", async () => {
    const a = options.fromUrl(table);
    const b = options.fromUrl(table);
    try {
      await options.truncate(table);
      for (let i = 0; i < 300; i += 100) {
        await Promise.all(Array.from({ length: 100 }, () => a.create(record({ expiresAt: T0 }))));
      }
      const drain = async (s: SqlStore) => {
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
}
