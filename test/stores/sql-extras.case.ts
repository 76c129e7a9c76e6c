/**
 * The SQL server store cases beyond the conformance suite that hold for PostgreSQL and MySQL
 * alike, written once and run by `postgres.test.ts` and `mysql.test.ts` inside their own
 * extras `describe` (which owns the pool and drops the table). What differs between the two
 * (quoting, how the prune lock is held) comes in through the options; cases only one of them
 * can run stay in that file.
 */
import { expect, it } from "vitest";
import { type SessionStore, SessionStoreError } from "../../src/index.js";
import { record } from "../conformance/store.case.js";
import { uniqueName } from "../helpers/services.js";

const T0 = 1_700_000_000_123;

type SqlStore = SessionStore & { migrate(): Promise<void> };

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

  it("before migrate(), operations fail with a SessionStoreError that says to migrate", async () => {
    const store = options.onPool(uniqueName(options.missingPrefix));
    const error = await store.get(record().id, T0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).store).toBe(options.storeName);
    expect((error as SessionStoreError).operation).toBe("get");
    expect((error as Error).message).toMatch(/does not exist; run store.migrate\(\)/);
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
