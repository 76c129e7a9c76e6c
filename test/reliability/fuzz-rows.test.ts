/**
 * Stored rows mutated behind sessionkit's back (what someone with write access to the table,
 * or a disk fault, would do): flipped and truncated ciphertext, data or whole rows swapped
 * between ids, the user id, secret hash, creation and activity times edited. For every
 * mutation: load never throws; a change to a field the ciphertext is bound to (data, id, user
 * id, secret hash, creation time) gives a fresh session and an `invalid-token` event; a
 * change to the unbound fields (last activity, expiry, version) never yields other data or
 * another user than the row held. Run on the memory store (edits through update) and on
 * SQLite (raw SQL on the table).
 *
 * Quick: 300 mutations per store. Full (SESSIONKIT_LONG=1): 3 000.
 */
import Database from "better-sqlite3";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSessions, type SessionEvents, type SessionStore, type StoredSession } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { sqliteStore } from "../../src/stores/sqlite.js";
import { recordFigure, scale } from "./figures.js";

const RUNS = scale(300, 3_000);
const SECRET = "rows-fuzz-secret-0123456789abcdef0123456789";
const HOUR = 3_600_000;

type Edit = Partial<Omit<StoredSession, "id">>;
interface Backend {
  name: string;
  store: SessionStore;
  /** Writes `edit` into row `id` directly (never through the engine). */
  write(id: string, edit: Edit): Promise<void>;
  close(): Promise<void>;
}

function memoryBackend(): Backend {
  const store = memoryStore();
  return {
    name: "memory",
    store,
    async write(id, edit) {
      const row = await store.get(id, 0);
      if (!row) throw new Error(`no row ${id}`);
      if (!(await store.update({ ...row, ...edit }, row.version))) throw new Error("edit refused");
    },
    close: () => store.close(),
  };
}

function sqliteBackend(): Backend {
  const db = new Database(":memory:");
  const store = sqliteStore({ database: db, table: "sessions" });
  const columns: Record<keyof Edit, string> = {
    secretHash: "secret_hash",
    userId: "user_id",
    data: "data",
    version: "version",
    createdAt: "created_at",
    lastActiveAt: "last_active_at",
    expiresAt: "expires_at",
    ip: "ip",
    userAgent: "user_agent",
    meta: "meta",
  };
  return {
    name: "sqlite",
    store,
    async write(id, edit) {
      const entries = Object.entries(edit) as Array<[keyof Edit, unknown]>;
      const sets = entries.map(([k]) => `${columns[k]} = ?`).join(", ");
      const values = entries.map(([, v]) => (v instanceof Uint8Array ? Buffer.from(v) : v));
      const changed = db.prepare(`UPDATE sessions SET ${sets} WHERE id = ?`).run(...values, id).changes;
      if (changed !== 1) throw new Error(`no row ${id}`);
    },
    async close() {
      await store.close();
      db.close();
    },
  };
}

/** A mutation: what to change, given the victim row and another row; `bound` if the AAD covers it. */
interface Mutation {
  kind: string;
  bound: boolean;
  edit(victim: StoredSession, other: StoredSession): Edit;
}

const flip = (data: Uint8Array, at: number, bit: number) => {
  const out = new Uint8Array(data);
  const i = at % out.length;
  out[i] = (out[i] as number) ^ (1 << bit);
  return out;
};

const mutations: fc.Arbitrary<Mutation> = fc.oneof(
  // The envelope is [format 1][key id 4][iv 12][ciphertext][tag 16]. The 4 key-id bytes only
  // pick which key to try first (a wrong one falls back to every key), so a flip there leaves
  // the authenticated plaintext as it was: not refused, and not changed either.
  fc.tuple(fc.nat(), fc.nat(7)).map(([at, bit]) => ({
    kind: "flip-data-bit",
    bound: true,
    edit: (v: StoredSession) => {
      const i = at % (v.data.length - 4);
      return { data: flip(v.data, i === 0 ? 0 : i + 4, bit) };
    },
  })),
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.nat(7)).map(([at, bit]) => ({
    kind: "flip-key-id-bit",
    bound: false,
    edit: (v: StoredSession) => ({ data: flip(v.data, at, bit) }),
  })),
  fc.nat().map((n) => ({
    kind: "truncate-data",
    bound: true,
    edit: (v: StoredSession) => ({ data: v.data.slice(0, n % v.data.length) }),
  })),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => ({
    kind: "extend-data",
    bound: true,
    edit: (v: StoredSession) => ({ data: new Uint8Array([...v.data, ...extra]) }),
  })),
  fc.uint8Array({ maxLength: 200 }).map((junk) => ({ kind: "random-data", bound: true, edit: () => ({ data: junk }) })),
  fc.constant({ kind: "swap-data", bound: true, edit: (_v: StoredSession, o: StoredSession) => ({ data: o.data }) }),
  fc.constant({
    kind: "swap-row-into-id",
    bound: true,
    edit: (_v: StoredSession, o: StoredSession) => {
      const { id: _id, ...rest } = o;
      return rest;
    },
  }),
  fc.constant({
    kind: "swap-secret-hash",
    bound: true,
    edit: (_v: StoredSession, o: StoredSession) => ({ secretHash: o.secretHash }),
  }),
  fc.constantFrom("admin", "bob", "", "alice ").map((u) => ({ kind: "edit-user-id", bound: true, edit: () => ({ userId: u }) })),
  fc.constant({ kind: "null-user-id", bound: true, edit: () => ({ userId: null }) }),
  fc
    .integer({ min: -100 * HOUR, max: 100 * HOUR })
    .filter((d) => d !== 0)
    .map((d) => ({
      kind: "edit-created-at",
      bound: true,
      edit: (v: StoredSession) => ({ createdAt: v.createdAt + d }),
    })),
  fc.integer({ min: -100 * HOUR, max: 100 * HOUR }).map((d) => ({
    kind: "edit-last-active-at",
    bound: false,
    edit: (v: StoredSession) => ({ lastActiveAt: v.lastActiveAt + d }),
  })),
  fc.integer({ min: -100 * HOUR, max: 1000 * HOUR }).map((d) => ({
    kind: "edit-expires-at",
    bound: false,
    edit: (v: StoredSession) => ({ expiresAt: (v.expiresAt ?? v.lastActiveAt) + d }),
  })),
  fc.integer({ min: 0, max: 2 ** 31 }).map((n) => ({ kind: "edit-version", bound: false, edit: () => ({ version: n }) })),
);

for (const make of [memoryBackend, sqliteBackend]) {
  describe(`fuzz: mutated stored rows (${make.name.replace("Backend", "")})`, () => {
    it(`${RUNS} mutations: refused and reported when bound, never another user's data, no crash`, async () => {
      const backend = make();
      const now = Date.now();
      const sessions = createSessions<Record<string, unknown>>({
        store: backend.store,
        secrets: [SECRET],
        idleTimeout: "2h",
        absoluteTimeout: "1d",
        touchInterval: 0,
        clock: () => now,
      });
      const reported: Array<SessionEvents["invalid-token"]["reason"] | "expired"> = [];
      sessions.on("invalid-token", (e) => reported.push(e.reason));
      sessions.on("expired", () => reported.push("expired"));
      const counts = { mutations: 0, refused: 0, reported: 0, loadedUnchanged: 0 };
      const byKind: Record<string, number> = {};

      const seed = async (user: string, data: Record<string, unknown>) => {
        const s = await sessions.load(new Headers());
        for (const [k, v] of Object.entries(data)) s.set(k, v);
        await s.login(user);
        const line = (await sessions.commit(s)).getSetCookie()[0] as string;
        return { cookie: line.split(";")[0] as string, id: s.id };
      };

      await fc.assert(
        fc.asyncProperty(mutations, async (mutation) => {
          counts.mutations++;
          byKind[mutation.kind] = (byKind[mutation.kind] ?? 0) + 1;
          const victim = await seed("alice", { role: "user", cart: [1, 2, 3] });
          const other = await seed("bob", { role: "admin" });
          const victimRow = (await backend.store.get(victim.id, now)) as StoredSession;
          const otherRow = (await backend.store.get(other.id, now)) as StoredSession;
          await backend.write(victim.id, mutation.edit(victimRow, otherRow));

          reported.length = 0;
          const loaded = await sessions.load(new Headers({ cookie: victim.cookie }));
          if (loaded.isNew) {
            counts.refused++;
            expect(reported.length).toBe(1); // refused AND reported
            counts.reported++;
          } else {
            counts.loadedUnchanged++;
            expect(mutation.bound, `${mutation.kind} loaded`).toBe(false);
            // The row's own user and data, never the other row's.
            expect(loaded.userId).toBe("alice");
            expect(loaded.toJSON()).toEqual({ role: "user", cart: [1, 2, 3] });
          }
          expect(loaded.userId).not.toBe("bob");
          expect(loaded.get("role")).not.toBe("admin");
          // The app goes on: a write through the loaded session commits (a new row if refused).
          loaded.set("after", 1);
          await sessions.commit(loaded);
          // The untouched row still loads as itself.
          const intact = await sessions.load(new Headers({ cookie: other.cookie }));
          expect(intact.get("role")).toBe("admin");
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
      await expect(sessions.list("alice")).resolves.toBeInstanceOf(Array);
      await expect(sessions.prune()).resolves.toBeTypeOf("number");
      await sessions.close();
      await backend.close();
      recordFigure({
        section: "fuzz",
        name: `stored rows mutated (${backend.name})`,
        values: {
          inputs: counts.mutations,
          "refused and reported": counts.refused,
          "loaded unchanged (unbound field)": counts.loadedUnchanged,
          crashes: 0,
        },
      });
    }, 300_000);
  });
}
