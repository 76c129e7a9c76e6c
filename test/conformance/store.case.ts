/**
 * The store conformance suite: written once, run by every `test/stores/<store>.test.ts`.
 * A store is done when it passes all of it. Skipping a case needs a stated reason.
 *
 * Times are compared at millisecond precision: the contract promises exact milliseconds.
 */
import { randomBytes } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SessionStore, StoredSession } from "../../src/index.js";
import { runEngineCases } from "./engine.case.js";

export interface ConformanceOptions {
  /** A fresh, empty, migrated store; called before every test. */
  makeStore: () => Promise<SessionStore>;
  /** Called after every test with the store it made (drop tables, delete keys...). */
  dropStore?: (store: SessionStore) => Promise<void>;
  /** Cases this store cannot run, each with the reason. */
  skip?: Array<{ reason: string; tests: string[] }>;
  /** Timeout for the heavy cases (10 000 sessions, 1 MiB). */
  heavyTimeout?: number;
  /**
   * Edits a stored row behind sessionkit's back, the way someone with write access to the
   * table would (raw SQL, HSET...). Used to check that tampered rows are refused. Without it
   * the suite edits through `store.update` with the stored version, which a store writes as given.
   */
  editRaw?: (store: SessionStore, id: string, change: RawEdit) => Promise<void>;
  /**
   * A second handle on the same data (another pool or connection), for the cases where two
   * engines act like two app processes. Without it both engines share the store object,
   * which still exercises the cross-process path (each engine queues only its own commits).
   */
  openSecond?: (store: SessionStore) => Promise<SessionStore>;
  /** Rounds of each race (200 by default). */
  raceRounds?: number;
  /**
   * Also run the engine cases with the near-cache on, as a suite of their own (default true).
   * Off for a store whose channel is not instant (MySQL polls): the cases read right after
   * another engine's write.
   */
  nearCache?: boolean;
}

/** Fields a tamper test changes in the raw row. */
export interface RawEdit {
  userId?: string | null;
  createdAt?: number;
  secretHash?: string;
  data?: Uint8Array;
}

/** The default `editRaw`: read the row and write it back changed, keeping its version. */
export async function editThroughUpdate(store: SessionStore, id: string, change: RawEdit): Promise<void> {
  const row = await store.get(id, 0);
  if (!row) throw new Error(`editRaw: no row ${id}`);
  if (!(await store.update({ ...row, ...change }, row.version))) throw new Error(`editRaw: update of ${id} refused`);
}

const T0 = 1_700_000_000_123; // deliberately not a whole second
const HOUR = 3_600_000;

export const newId = () => randomBytes(16).toString("hex");
export const newSecretHash = () => randomBytes(32).toString("hex");

export function record(overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    id: newId(),
    secretHash: newSecretHash(),
    userId: null,
    data: new Uint8Array(randomBytes(48)),
    version: 1,
    createdAt: T0,
    lastActiveAt: T0 + 7,
    expiresAt: T0 + HOUR + 9,
    ip: "203.0.113.9",
    userAgent: "Mozilla/5.0 (conformance)",
    meta: '{"device":"laptop"}',
    ...overrides,
  };
}

const bytes = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function expectSame(actual: StoredSession | null, expected: StoredSession) {
  expect(actual).not.toBeNull();
  const a = actual as StoredSession;
  expect(a.data).toBeInstanceOf(Uint8Array);
  expect(bytes(a.data).equals(bytes(expected.data))).toBe(true);
  const { data: _a, ...restA } = a;
  const { data: _b, ...restB } = expected;
  expect(restA).toEqual(restB);
}

export function runStoreConformance(storeName: string, options: ConformanceOptions) {
  const skipped = new Map<string, string>();
  for (const { reason, tests } of options.skip ?? []) {
    if (!reason) throw new Error("every skipped conformance case needs a reason");
    for (const t of tests) skipped.set(t, reason);
  }
  const heavy = options.heavyTimeout ?? 60_000;

  /** A fresh store for every test of the enclosing suite, dropped and closed after it. */
  const freshStorePerTest = () => {
    let current: SessionStore | undefined;
    beforeEach(async () => {
      current = await options.makeStore();
    });
    afterEach(async () => {
      if (!current) return;
      await options.dropStore?.(current);
      await current.close();
    });
    return () => current as SessionStore;
  };

  describe(`store conformance: ${storeName}`, () => {
    const currentStore = freshStorePerTest();
    let store: SessionStore;
    beforeEach(() => {
      store = currentStore();
    });

    const test = (name: string, fn: () => Promise<void>, timeout?: number) => {
      const reason = skipped.get(name);
      if (reason) it.skip(`${name} (skipped: ${reason})`, fn);
      else it(name, fn, timeout);
    };

    test("create then get returns every field exactly, times to the millisecond", async () => {
      const r = record({ userId: "u1" });
      expect(await store.create(r)).toBe(true);
      expectSame(await store.get(r.id, T0), r);
    });

    test("nullable fields round-trip as null", async () => {
      const r = record({ userId: null, ip: null, userAgent: null, meta: null, expiresAt: null });
      await store.create(r);
      expectSame(await store.get(r.id, T0 + 1000 * 24 * HOUR), r);
    });

    test("get of an unknown id is null", async () => {
      expect(await store.get(newId(), T0)).toBeNull();
    });

    test("create refuses an existing id and keeps the original", async () => {
      const r = record();
      await store.create(r);
      expect(await store.create({ ...r, data: new Uint8Array([1, 2, 3]), version: 9 })).toBe(false);
      expectSame(await store.get(r.id, T0), r);
    });

    test("update with the stored version replaces the row", async () => {
      const r = record({ userId: "u1" });
      await store.create(r);
      const next = { ...r, data: new Uint8Array([9, 9, 9]), version: 2, lastActiveAt: T0 + 50, userId: "u2" };
      expect(await store.update(next, 1)).toBe(true);
      expectSame(await store.get(r.id, T0), next);
    });

    test("update with a stale version is refused and changes nothing", async () => {
      const r = record({ version: 5 });
      await store.create(r);
      expect(await store.update({ ...r, data: new Uint8Array([0]), version: 6 }, 4)).toBe(false);
      expectSame(await store.get(r.id, T0), r);
    });

    test("update of a deleted row is refused and does not bring it back", async () => {
      const r = record();
      await store.create(r);
      await store.delete(r.id);
      expect(await store.update({ ...r, version: 2 }, 1)).toBe(false);
      expect(await store.get(r.id, T0)).toBeNull();
    });

    test("update moves the session between users in the user index", async () => {
      const r = record({ userId: "before" });
      await store.create(r);
      await store.update({ ...r, userId: "after", version: 2 }, 1);
      expect(await store.listByUser("before", T0)).toEqual([]);
      expect((await store.listByUser("after", T0)).map((s) => s.id)).toEqual([r.id]);
    });

    test("update replaces the secret hash on the same row (login and rotation)", async () => {
      const r = record({ userId: "u1" });
      await store.create(r);
      const rotated = { ...r, secretHash: newSecretHash(), version: 2, data: new Uint8Array([4, 5]) };
      expect(await store.update(rotated, 1)).toBe(true);
      expectSame(await store.get(r.id, T0), rotated);
      expect((await store.listByUser("u1", T0)).map((s) => s.id)).toEqual([r.id]);
    });

    test("ids and secret hashes are compared exactly (case matters)", async () => {
      const r = record({ id: "0123456789abcdef0123456789abcdef" });
      await store.create(r);
      expect(await store.get("0123456789ABCDEF0123456789ABCDEF", T0)).toBeNull();
      expect(await store.touch(r.id, r.secretHash.toUpperCase(), T0 + 1, null)).toBe(false);
      expectSame(await store.get(r.id, T0), r);
    });

    test("touch writes timestamps only", async () => {
      const r = record();
      await store.create(r);
      expect(await store.touch(r.id, r.secretHash, T0 + 500, T0 + 2 * HOUR + 1)).toBe(true);
      expectSame(await store.get(r.id, T0), { ...r, lastActiveAt: T0 + 500, expiresAt: T0 + 2 * HOUR + 1 });
    });

    test("touch is refused once the secret was rotated, and writes nothing", async () => {
      const r = record();
      await store.create(r);
      const rotated = { ...r, secretHash: newSecretHash(), version: 2 };
      await store.update(rotated, 1);
      expect(await store.touch(r.id, r.secretHash, T0 + 500, T0 + 2 * HOUR)).toBe(false);
      expectSame(await store.get(r.id, T0), rotated);
    });

    test("touch can clear the expiry and does not bring back a deleted row", async () => {
      const r = record();
      await store.create(r);
      expect(await store.touch(r.id, r.secretHash, T0 + 1, null)).toBe(true);
      expect((await store.get(r.id, T0 + 100 * HOUR))?.expiresAt).toBeNull();
      await store.delete(r.id);
      expect(await store.touch(r.id, r.secretHash, T0 + 2, T0 + HOUR)).toBe(false);
      expect(await store.get(r.id, T0)).toBeNull();
    });

    test("delete reports whether it deleted", async () => {
      const r = record();
      await store.create(r);
      expect(await store.delete(r.id)).toBe(true);
      expect(await store.delete(r.id)).toBe(false);
      expect(await store.get(r.id, T0)).toBeNull();
    });

    test("an expired session is never returned, even before pruning", async () => {
      const r = record({ userId: "u1", expiresAt: T0 + 1000 });
      await store.create(r);
      expect(await store.get(r.id, T0 + 999)).not.toBeNull();
      expect(await store.get(r.id, T0 + 1000)).toBeNull();
      expect(await store.get(r.id, T0 + 5000)).toBeNull();
      expect(await store.listByUser("u1", T0 + 1000)).toEqual([]);
      expect((await store.listByUser("u1", T0 + 999)).length).toBe(1);
    });

    test("listByUser returns the user's live sessions without data", async () => {
      const a = record({ userId: "alice", lastActiveAt: T0 + 1 });
      const b = record({ userId: "alice", lastActiveAt: T0 + 2, ip: null });
      const c = record({ userId: "bob" });
      const d = record({ userId: null });
      for (const r of [a, b, c, d]) await store.create(r);
      const list = await store.listByUser("alice", T0);
      expect(list.map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
      for (const s of list) {
        expect(s).not.toHaveProperty("data");
        expect(s).not.toHaveProperty("secretHash");
      }
      const { data: _d, secretHash: _h, ...bInfo } = b;
      expect(list.find((s) => s.id === b.id)).toEqual(bInfo);
      expect(await store.listByUser("nobody", T0)).toEqual([]);
    });

    test("deleteByUser removes a user's sessions except the ones named", async () => {
      const keep = record({ userId: "alice" });
      const gone1 = record({ userId: "alice" });
      const gone2 = record({ userId: "alice" });
      const other = record({ userId: "bob" });
      for (const r of [keep, gone1, gone2, other]) await store.create(r);
      const deleted = await store.deleteByUser("alice", [keep.id]);
      expect(deleted.sort()).toEqual([gone1.id, gone2.id].sort());
      expect((await store.listByUser("alice", T0)).map((s) => s.id)).toEqual([keep.id]);
      expect(await store.get(gone1.id, T0)).toBeNull();
      expect(await store.get(other.id, T0)).not.toBeNull();
      expect(await store.deleteByUser("alice")).toEqual([keep.id]);
      expect(await store.deleteByUser("alice")).toEqual([]);
    });

    test("pruneExpired deletes expired rows in bounded batches and keeps live ones", async () => {
      const expired = Array.from({ length: 25 }, (_, i) => record({ userId: "u", expiresAt: T0 + i }));
      const live = [record({ expiresAt: T0 + HOUR }), record({ expiresAt: null })];
      for (const r of [...expired, ...live]) await store.create(r);
      const now = T0 + 1000;
      const batches: number[] = [];
      for (;;) {
        const n = await store.pruneExpired(now, 10);
        expect(n).toBeLessThanOrEqual(10);
        if (n === 0) break;
        batches.push(n);
      }
      expect(batches.reduce((a, b) => a + b, 0)).toBe(25);
      for (const r of live) expect(await store.get(r.id, now)).not.toBeNull();
      const stats = await store.stats(now, 10);
      expect(stats.total).toBe(2);
      expect(stats.expired).toBe(0);
    });

    test("stats counts total, active, expired and the top users", async () => {
      for (let i = 0; i < 3; i++) await store.create(record({ userId: "alice" }));
      await store.create(record({ userId: "bob" }));
      await store.create(record({ userId: "bob", expiresAt: T0 }));
      await store.create(record({ userId: null }));
      const stats = await store.stats(T0 + 1, 1);
      expect(stats).toEqual({ total: 6, active: 5, expired: 1, topUsers: [{ userId: "alice", count: 3 }] });
    });

    test("binary data of every byte value round-trips", async () => {
      const all = new Uint8Array(512);
      for (let i = 0; i < all.length; i++) all[i] = i % 256;
      const r = record({ data: all });
      await store.create(r);
      expectSame(await store.get(r.id, T0), r);
      const empty = record({ data: new Uint8Array(0) });
      await store.create(empty);
      expectSame(await store.get(empty.id, T0), empty);
    });

    test(
      "1 MiB of data round-trips",
      async () => {
        const r = record({ data: new Uint8Array(randomBytes(1024 * 1024)) });
        await store.create(r);
        expectSame(await store.get(r.id, T0), r);
        const bigger = { ...r, data: new Uint8Array(randomBytes(1024 * 1024)), version: 2 };
        expect(await store.update(bigger, 1)).toBe(true);
        expectSame(await store.get(r.id, T0), bigger);
      },
      heavy,
    );

    test(
      "10 000 sessions: create, list one user's, prune them all in batches",
      async () => {
        const rows = Array.from({ length: 10_000 }, (_, i) =>
          record({ userId: i % 10 === 0 ? "heavy" : `user-${i}`, expiresAt: T0 + HOUR + (i % 100), data: new Uint8Array(16) }),
        );
        for (let i = 0; i < rows.length; i += 100) {
          const results = await Promise.all(rows.slice(i, i + 100).map((r) => store.create(r)));
          expect(results.every(Boolean)).toBe(true);
        }
        expect((await store.listByUser("heavy", T0)).length).toBe(1000);
        const sample = rows[4321] as StoredSession;
        expectSame(await store.get(sample.id, T0), sample);
        let pruned = 0;
        for (;;) {
          const n = await store.pruneExpired(T0 + 2 * HOUR, 1000);
          pruned += n;
          if (n === 0) break;
        }
        expect(pruned).toBe(10_000);
        expect((await store.stats(T0, 10)).total).toBe(0);
      },
      heavy,
    );

    test("delete wins over concurrent updates: the row never comes back", async () => {
      for (let round = 0; round < 20; round++) {
        const r = record({ userId: "u" });
        await store.create(r);
        const ops = [
          store.update({ ...r, version: 2, secretHash: newSecretHash() }, 1),
          store.delete(r.id),
          store.touch(r.id, r.secretHash, T0 + 9, T0 + HOUR),
        ];
        await Promise.all(ops);
        expect(await store.get(r.id, T0)).toBeNull();
        expect(await store.update({ ...r, version: 3 }, 2)).toBe(false);
        expect(await store.listByUser("u", T0)).toEqual([]);
      }
    });

    test("concurrent compare-and-set: exactly one writer of a version wins", async () => {
      const r = record();
      await store.create(r);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.update({ ...r, version: 2, data: new Uint8Array([i]) }, 1)),
      );
      expect(results.filter(Boolean).length).toBe(1);
      const stored = await store.get(r.id, T0);
      expect(stored?.version).toBe(2);
      expect(results[stored?.data[0] as number]).toBe(true);
    });

    runEngineCases(test, () => store, options, heavy);
  });

  // The same races with the near-cache on: hits, invalidations and write-through under load.
  // A suite of its own, beside the conformance suite every store must run whole.
  describe.skipIf(options.nearCache === false)(`engine with near-cache: ${storeName}`, () => {
    const currentStore = freshStorePerTest();
    const test = (name: string, fn: () => Promise<void>, timeout?: number) => {
      if (name.includes("rows edited in the table")) {
        // A row changed behind sessionkit's back stays cached until ttl (docs/near-cache.md).
        it.skip(`${name} (skipped: the near-cache serves a hand-edited row until ttl, as documented)`, fn);
      } else it(name, fn, timeout);
    };
    runEngineCases(test, currentStore, options, heavy, { maxEntries: 1000, ttl: "1m" });
  });
}
