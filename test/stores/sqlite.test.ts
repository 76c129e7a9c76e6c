import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import Database from "better-sqlite3";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import {
  createSessions,
  SessionConfigError,
  type SessionEvents,
  type SessionStore,
  SessionStoreError,
  type StoredSession,
} from "../../src/index.js";
import { createSql, MIGRATIONS, type Migration } from "../../src/stores/sqlite/schema.js";
import { sqlitePruneMode } from "../../src/stores/sqlite/store.js";
import { sqliteSchemaSql, sqliteStore } from "../../src/stores/sqlite.js";
import { newId, type RawEdit, record, runStoreConformance } from "../conformance/store.case.js";

const dir = mkdtempSync(join(tmpdir(), "sessionkit-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const tempPath = (name = "s") => join(dir, `${name}-${process.pid}-${++counter}.sqlite`);
const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const SECRET = "sqlite-test-secret-0123456789abcdef0123456789";
const T0 = 1_700_000_000_123;

/** Writes the columns of a tamper case straight into the table, behind the store's back. */
function editRow(db: Database.Database, table: string, id: string, change: RawEdit) {
  const columns: Record<keyof RawEdit, string> = {
    userId: "user_id",
    createdAt: "created_at",
    secretHash: "secret_hash",
    data: "data",
  };
  const fields = (Object.keys(change) as Array<keyof RawEdit>).filter((k) => change[k] !== undefined);
  const values = fields.map((k) => (k === "data" ? Buffer.from(change.data as Uint8Array) : change[k]));
  const sets = fields.map((k) => `${columns[k]} = ?`).join(", ");
  const { changes } = db.prepare(`UPDATE "${table}" SET ${sets} WHERE id = ?`).run(...values, id);
  if (changes !== 1) throw new Error(`editRaw: no row ${id}`);
}

// The file store is edited through a second connection to the file, as another process would.
const files = new WeakMap<SessionStore, string>();
runStoreConformance("sqlite (file)", {
  makeStore: async () => {
    const path = tempPath();
    const store = sqliteStore({ path });
    files.set(store, path);
    return store;
  },
  editRaw: async (store, id, change) => {
    const db = new Database(files.get(store) as string);
    try {
      editRow(db, "sessions", id, change);
    } finally {
      db.close();
    }
  },
});
// A private :memory: database has no other connection to edit it through: the suite's
// default editRaw (an update that keeps the version) stands in.
runStoreConformance("sqlite (:memory:)", { makeStore: async () => sqliteStore({ path: ":memory:" }) });
const databases = new WeakMap<SessionStore, Database.Database>();
runStoreConformance("sqlite (app-owned Database)", {
  makeStore: async () => {
    const db = new Database(":memory:");
    const store = sqliteStore({ database: db, table: "app_sessions" });
    databases.set(store, db);
    return store;
  },
  editRaw: async (store, id, change) => editRow(databases.get(store) as Database.Database, "app_sessions", id, change),
});

describe("sqlite store: setup", () => {
  it("uses WAL mode and a busy timeout on a file it opens", async () => {
    const path = tempPath();
    const store = sqliteStore({ path, busyTimeout: 1234 });
    await store.create(record());
    const db = new Database(path);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    await store.close();
  });

  it("leaves an app-owned Database open on close()", async () => {
    const db = new Database(":memory:");
    const store = sqliteStore({ database: db });
    await store.create(record());
    await store.close();
    expect(db.open).toBe(true);
    expect((db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n).toBe(1);
    db.close();
  });

  it("rejects nonsensical options", () => {
    expect(() => sqliteStore({} as never)).toThrow(/exactly one of path/);
    expect(() => sqliteStore({ path: ":memory:", table: "bad name; DROP" })).toThrow(/plain SQL identifier/);
    expect(() => sqliteStore({ path: ":memory:", table: "sessionkit_schema" })).toThrow(/plain SQL identifier/);
    expect(() => sqliteStore({ path: ":memory:", busyTimeout: -1 })).toThrow(/busyTimeout/);
  });

  it("keeps two tables in one file apart", async () => {
    const path = tempPath();
    const a = sqliteStore({ path, table: "a_sessions" });
    const b = sqliteStore({ path, table: "b_sessions" });
    const r = record();
    await a.create(r);
    expect(await b.get(r.id, T0)).toBeNull();
    expect((await a.get(r.id, T0))?.id).toBe(r.id);
    await a.close();
    await b.close();
  });

  it("fails clearly once closed", async () => {
    const store = sqliteStore({ path: ":memory:" });
    await store.close();
    await expect(store.get(newId(), T0)).rejects.toThrow(/closed/);
    await store.close(); // idempotent
  });
});

describe("sqlite store: without better-sqlite3", () => {
  it("importing works; creating a store says to install it (ESM and CommonJS builds)", () => {
    const dist = join(process.cwd(), "dist");
    if (!existsSync(join(dist, "stores", "sqlite.js")))
      throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
    // A copy of the built package where no node_modules can be found.
    const isolated = mkdtempSync(join(tmpdir(), "sessionkit-nodriver-"));
    try {
      cpSync(dist, join(isolated, "dist"), { recursive: true });
      writeFileSync(join(isolated, "package.json"), JSON.stringify({ type: "module" }));
      const attempt = (code: string, type: "module" | "commonjs") =>
        spawnSync(process.execPath, [`--input-type=${type}`, "-e", code], { cwd: isolated, encoding: "utf8" });
      const esm = attempt(
        `const { sqliteStore } = await import("./dist/stores/sqlite.js");
         try { sqliteStore({ path: ":memory:" }); } catch (e) { console.log(e.name + ": " + e.message); }`,
        "module",
      );
      expect(esm.stdout).toMatch(
        /^SessionConfigError: \[sessionkit\] \[sqlite\] .*not installed\. Run `npm install better-sqlite3`/,
      );
      const cjs = attempt(
        `const { sqliteStore } = require("./dist/stores/sqlite.cjs");
         try { sqliteStore({ path: ":memory:" }); } catch (e) { console.log(e.name + ": " + e.message); }`,
        "commonjs",
      );
      expect(cjs.stdout).toMatch(/^SessionConfigError: .*npm install better-sqlite3/);
    } finally {
      rmSync(isolated, { recursive: true, force: true });
    }
  });
});

describe("sqlite store: migrations", () => {
  const versionOf = (path: string, table = "sessions") => {
    const db = new Database(path, { readonly: true });
    try {
      return (
        db.prepare("SELECT version FROM sessionkit_schema WHERE table_name = ?").get(table) as { version: number } | undefined
      )?.version;
    } finally {
      db.close();
    }
  };
  const indexes = (path: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions'").all() as Array<{
          name: string;
        }>
      )
        .map((r) => r.name)
        .filter((n) => !n.startsWith("sqlite_autoindex"))
        .sort();
    } finally {
      db.close();
    }
  };

  it("fresh: opening creates the table, its indexes and records the schema version", async () => {
    const path = tempPath();
    const store = sqliteStore({ path });
    await store.close();
    expect(versionOf(path)).toBe(MIGRATIONS.length);
    expect(indexes(path)).toEqual(["sessions_expires_at", "sessions_user_id"]);
  });

  it("repeated: migrate() and reopening change nothing and keep every session", async () => {
    const path = tempPath();
    const store = sqliteStore({ path });
    const r = record({ userId: "u" });
    await store.create(r);
    await store.migrate();
    await store.migrate();
    await store.close();
    const again = sqliteStore({ path });
    await again.migrate();
    expect((await again.get(r.id, T0))?.userId).toBe("u");
    await again.close();
    expect(versionOf(path)).toBe(MIGRATIONS.length);
  });

  /** A database as sessionkit's schema version 1 left it, with two sessions of the old token format. */
  function v1Database(path: string) {
    const db = new Database(path);
    for (const sql of (MIGRATIONS[0] as Migration)("sessions")) db.exec(sql);
    db.exec(
      "CREATE TABLE sessionkit_schema (table_name TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    );
    db.prepare("INSERT INTO sessionkit_schema VALUES ('sessions', 1, 0)").run();
    const insert = db.prepare("INSERT INTO sessions VALUES (?, ?, ?, 1, ?, ?, NULL, '203.0.113.1', 'old agent', NULL)");
    // Version 1 keyed rows by SHA-256 of the whole token: 64 hex characters.
    for (const user of ["old-alice", "old-bob"])
      insert.run(createHash("sha256").update(user).digest("hex"), user, Buffer.alloc(8), T0, T0);
    db.close();
  }

  it("from version 1 with sessions: the upgrade ends the old sessions and adds secret_hash", async () => {
    const path = tempPath();
    v1Database(path);
    const store = sqliteStore({ path });
    expect(versionOf(path)).toBe(2);
    expect(await store.migrate()).toEqual({ action: "current", from: 2, to: 2 });
    expect((await store.stats(T0, 10)).total).toBe(0); // old sessions simply end
    expect(await store.listByUser("old-alice", T0)).toEqual([]);
    const r = record({ userId: "new" });
    expect(await store.create(r)).toBe(true);
    expect((await store.get(r.id, T0))?.secretHash).toBe(r.secretHash);
    expect(await store.touch(r.id, r.secretHash, T0 + 1, null)).toBe(true);
    await store.close();
    const db = new Database(path, { readonly: true });
    const columns = db.prepare("SELECT name, type, \"notnull\" AS nn FROM pragma_table_info('sessions')").all() as Array<{
      name: string;
      type: string;
      nn: number;
    }>;
    db.close();
    expect(columns.find((c) => c.name === "secret_hash")).toEqual({ name: "secret_hash", type: "TEXT", nn: 1 });
    expect(indexes(path)).toEqual(["sessions_expires_at", "sessions_user_id"]);
  });

  it("migrate() reports what it did: created, upgraded, current", async () => {
    const fresh = sqliteStore({ path: tempPath(), migrate: false });
    expect(await fresh.migrate()).toEqual({ action: "created", from: 0, to: 2 });
    expect(await fresh.migrate()).toEqual({ action: "current", from: 2, to: 2 });
    await fresh.close();
    const path = tempPath();
    v1Database(path);
    const old = sqliteStore({ path, migrate: false });
    expect(await old.migrate()).toEqual({ action: "upgraded", from: 1, to: 2 });
    await old.close();
  });

  it("refuses a database a newer release upgraded, and touches nothing", async () => {
    const path = tempPath();
    await sqliteStore({ path }).close();
    const db = new Database(path);
    db.prepare("UPDATE sessionkit_schema SET version = 3").run();
    db.close();
    const before = sha(path);
    expect(() => sqliteStore({ path })).toThrow(/schema version 3, newer than this sessionkit knows \(2\).*Upgrade sessionkit/);
    expect(sha(path)).toBe(before);
  });

  it("migrate: false with a table at an older version: operations ask to migrate, and nothing is deleted until then", async () => {
    const path = tempPath();
    v1Database(path);
    const store = sqliteStore({ path, migrate: false });
    await expect(store.get(newId(), T0)).rejects.toThrow(/version 1.*needs 2.*migrate/);
    await expect(store.create(record())).rejects.toThrow(/version 1.*needs 2.*migrate/);
    const db = new Database(path, { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n).toBe(2);
    db.close();
    expect(await store.migrate()).toEqual({ action: "upgraded", from: 1, to: 2 });
    expect(await store.create(record())).toBe(true);
    await store.close();
  });

  it("migrate: false on an empty database: operations ask for a migration until migrate() runs", async () => {
    const path = tempPath();
    const store = sqliteStore({ path, migrate: false });
    await expect(store.get(newId(), T0)).rejects.toThrow(/does not exist.*store\.migrate\(\)/);
    await store.migrate();
    const r = record();
    expect(await store.create(r)).toBe(true);
    await store.close();
  });

  it("schemaSql() is the DDL migrate() runs; applied by hand, the store accepts it", async () => {
    const store = sqliteStore({ path: ":memory:", table: "own_tool" });
    const ddl = store.schemaSql();
    await store.close();
    expect(ddl).toBe(sqliteSchemaSql("own_tool"));
    expect(ddl).toMatch(/CREATE TABLE IF NOT EXISTS "own_tool"/);
    expect(ddl).toMatch(/secret_hash TEXT NOT NULL,/);
    expect(ddl).not.toMatch(/DELETE|ALTER/); // a fresh schema: nothing that upgrades or deletes
    expect(ddl).toMatch(/CREATE INDEX IF NOT EXISTS "own_tool_user_id" ON "own_tool" \(user_id\)/);
    expect(ddl).toMatch(/CREATE INDEX IF NOT EXISTS "own_tool_expires_at" ON "own_tool" \(expires_at\)/);
    const path = tempPath();
    const db = new Database(path);
    db.exec(ddl);
    db.exec(ddl); // re-runnable
    db.close();
    const before = sha(path);
    const mine = sqliteStore({ path, table: "own_tool", migrate: false });
    await mine.create(record());
    await mine.close();
    expect(versionOf(path, "own_tool")).toBe(2);
    expect(before).not.toBe(""); // the file was used as is
  });

  it("a table with our columns but no recorded version (made by hand) is adopted at the version its columns show", async () => {
    const current = tempPath();
    const db = new Database(current);
    for (const sql of createSql("sessions")) db.exec(sql);
    db.close();
    const store = sqliteStore({ path: current });
    await store.create(record());
    expect((await store.stats(T0, 1)).total).toBe(1);
    await store.close();
    expect(versionOf(current)).toBe(2);

    const old = tempPath();
    const v1 = new Database(old);
    for (const sql of (MIGRATIONS[0] as Migration)("sessions")) v1.exec(sql);
    v1.close();
    const adopted = sqliteStore({ path: old });
    expect(await adopted.migrate()).toEqual({ action: "current", from: 2, to: 2 });
    await adopted.close();
    expect(versionOf(old)).toBe(2);
  });
});

describe("sqlite store: bad input touches nothing", () => {
  it("a path in a directory that does not exist", () => {
    const missing = join(dir, "no-such-dir", "deeper", "s.sqlite");
    expect(() => sqliteStore({ path: missing })).toThrow(SessionConfigError);
    expect(() => sqliteStore({ path: missing })).toThrow(/no-such-dir.*does not exist.*mkdir -p/);
    expect(existsSync(join(dir, "no-such-dir"))).toBe(false);
  });

  it("a read-only file", async () => {
    const path = tempPath();
    await sqliteStore({ path }).close();
    chmodSync(path, 0o444);
    const before = sha(path);
    try {
      expect(() => sqliteStore({ path })).toThrow(
        new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*read-only.*chmod u\\+w`),
      );
      expect(sha(path)).toBe(before);
      expect(existsSync(`${path}-wal`)).toBe(false);
    } finally {
      chmodSync(path, 0o644);
    }
  });

  it("a file that is not a SQLite database", () => {
    const path = tempPath("notes");
    writeFileSync(path, "these are my notes, not a database\n".repeat(50));
    const before = sha(path);
    expect(() => sqliteStore({ path })).toThrow(/notes.*is not a SQLite database.*Nothing was changed/);
    expect(sha(path)).toBe(before);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it("a file with a damaged page is reported, not crashed on", () => {
    const path = tempPath("damaged");
    // The right header, then garbage: passes the header check, fails inside SQLite.
    writeFileSync(path, Buffer.concat([Buffer.from("SQLite format 3\0"), Buffer.alloc(4080, 0xab)]));
    const before = sha(path);
    expect(() => sqliteStore({ path })).toThrow(/damaged|not a SQLite database/);
    expect(sha(path)).toBe(before);
  });

  it("a directory instead of a file", () => {
    expect(() => sqliteStore({ path: dir })).toThrow(/not a regular file/);
  });

  it("a table with a foreign schema", () => {
    const path = tempPath("foreign");
    const db = new Database(path);
    db.exec("CREATE TABLE sessions (sid TEXT PRIMARY KEY, sess TEXT, expire INTEGER)");
    db.prepare("INSERT INTO sessions VALUES ('x', '{}', 0)").run();
    db.close();
    const before = sha(path);
    expect(() => sqliteStore({ path })).toThrow(
      /table "sessions" in .*not created by sessionkit \(no column id.*table: "app_sessions"/,
    );
    expect(sha(path)).toBe(before);
    const check = new Database(path, { readonly: true });
    expect(check.prepare("SELECT name FROM sqlite_master WHERE name = 'sessionkit_schema'").get()).toBeUndefined();
    expect(check.pragma("journal_mode", { simple: true })).toBe("delete");
    check.close();
  });

  it("a table whose columns have the wrong types", () => {
    const db = new Database(":memory:");
    db.exec(
      "CREATE TABLE sessions (id TEXT, user_id TEXT, data TEXT, version INTEGER, created_at TEXT, last_active_at INTEGER, expires_at INTEGER, ip TEXT, user_agent TEXT, meta TEXT)",
    );
    expect(() => sqliteStore({ database: db })).toThrow(/column data is TEXT, not BLOB; column created_at is TEXT, not INTEGER/);
    db.close();
  });
});

describe("sqlite store: corrupted rows", () => {
  async function setup() {
    const db = new Database(":memory:");
    const store = sqliteStore({ database: db });
    const sessions = createSessions<Record<string, number>>({ store, secrets: [SECRET], clock: () => T0 });
    const events: Array<SessionEvents["invalid-token"]> = [];
    sessions.on("invalid-token", (e) => events.push(e));
    const s = await sessions.load(new Request("http://localhost/"));
    s.set("a", 1);
    await s.login("alice");
    const cookie = ((await sessions.commit(s)).get("set-cookie") ?? "").split(";")[0] as string;
    const load = () => sessions.load(new Request("http://localhost/", { headers: { cookie } }));
    return { db, store, sessions, events, load, id: s.id };
  }

  it("garbage in data gives a fresh session and an undecodable event", async () => {
    const { db, events, load, id } = await setup();
    db.prepare("UPDATE sessions SET data = randomblob(80) WHERE id = ?").run(id);
    const s = await load();
    expect(s.isNew).toBe(true);
    expect(s.get("a")).toBeUndefined();
    expect(events).toEqual([expect.objectContaining({ reason: "undecodable", id })]);
    db.close();
  });

  it("wrong types written by hand are skipped the same way, and left out of lists", async () => {
    const { db, store, sessions, events, load, id } = await setup();
    db.prepare("UPDATE sessions SET data = 'not a blob', created_at = 'yesterday' WHERE id = ?").run(id);
    const s = await load();
    expect(s.isNew).toBe(true);
    expect(events.map((e) => e.reason)).toEqual(["undecodable"]);
    expect(await sessions.list("alice")).toEqual([]);
    expect(await store.listByUser("alice", T0)).toEqual([]);
    expect((await store.stats(T0, 10)).total).toBe(1);
    db.close();
  });
});

describe("sqlite store: pruning", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // These check the main-thread fallback's time slicing (a mocked clock cannot reach a worker).
  async function backlog(n: number, pruneInWorker = false) {
    const store = sqliteStore({ path: tempPath(), pruneInWorker });
    for (let i = 0; i < n; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, n - i) }, (_, j) =>
          store.create(record({ expiresAt: T0 + i + j, data: new Uint8Array(8) })),
        ),
      );
    }
    const live = record({ expiresAt: null });
    await store.create(live);
    return { store, live };
  }

  it("a call stops by time as well as by count; calls until 0 delete everything and keep live rows", async () => {
    const { store, live } = await backlog(2500);
    // A clock that moves 3 ms per reading (the store reads it around each statement and for the
    // slice): each call's 5 ms slice ends after its first statement of 200 rows.
    let clock = 0;
    vi.spyOn(performance, "now").mockImplementation(() => (clock += 3));
    const calls: number[] = [];
    for (;;) {
      const n = await store.pruneExpired(T0 + 10_000, 1000);
      calls.push(n);
      if (n === 0) break;
    }
    expect(calls.slice(0, 2)).toEqual([200, 200]); // one statement of 200, then time is up
    expect(calls.reduce((a, b) => a + b, 0)).toBe(2500);
    expect(calls.at(-1)).toBe(0);
    expect((await store.get(live.id, T0))?.id).toBe(live.id);
    expect((await store.stats(T0 + 10_000, 10)).total).toBe(1);
    await store.close();
  });

  it("statements slower than the slice make the next ones smaller; quick ones let them grow back", async () => {
    const { store } = await backlog(3000);
    // First every reading of the clock moves it 6 ms: each statement "takes" 6 ms, over the
    // 5 ms slice. Then readings move it 0.1 ms: statements look quick and the step grows.
    let clock = 0;
    let slow = true;
    vi.spyOn(performance, "now").mockImplementation(() => (clock += slow ? 6 : 0.1));
    const slowCalls: number[] = [];
    for (let i = 0; i < 4; i++) slowCalls.push(await store.pruneExpired(T0 + 10_000, 1000));
    expect(slowCalls).toEqual([200, 100, 50, 25]); // halved after each slow statement
    slow = false;
    const quick = await store.pruneExpired(T0 + 10_000, 1000);
    expect(quick).toBeGreaterThan(25 * 4); // many quick statements, each bigger than the last
    await store.close();
  });

  it.each([
    ["on the main thread", false],
    ["in the worker", true],
  ])(
    "with a real clock, one call over a large backlog stays short and never passes the limit (%s)",
    async (_, inWorker) => {
      const { store } = await backlog(20_000, inWorker);
      let total = 0;
      let longest = 0;
      for (;;) {
        const started = performance.now();
        const n = await store.pruneExpired(T0 + 100_000, 50_000);
        longest = Math.max(longest, performance.now() - started);
        expect(n).toBeLessThanOrEqual(50_000);
        total += n;
        if (n === 0) break;
      }
      expect(total).toBe(20_000);
      expect(await sqlitePruneMode(store)).toBe(inWorker ? "worker" : "main thread");
      // Main thread: 5 ms slices plus one statement of 200 rows. Worker: a 100 ms budget per call
      // (the event loop is free meanwhile). Generous for a loaded CI machine.
      expect(longest).toBeLessThan(inWorker ? 1000 : 100);
      await store.close();
    },
    60_000,
  );

  it.each([
    ["on the main thread", false],
    ["in the worker", true],
  ])("a small limit is still honoured exactly (%s)", async (_, inWorker) => {
    const { store } = await backlog(30, inWorker);
    expect(await store.pruneExpired(T0 + 10_000, 7)).toBe(7);
    expect(await store.pruneExpired(T0 + 10_000, 0)).toBe(0);
    expect((await store.stats(T0 + 10_000, 1)).expired).toBe(23);
    await store.close();
  });
});

describe("sqlite store: pruning in a worker thread", () => {
  async function expired(store: SessionStore, n: number) {
    for (let i = 0; i < n; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, n - i) }, (_, j) =>
          store.create(record({ expiresAt: T0 + i + j, data: new Uint8Array(8) })),
        ),
      );
    }
  }

  it("a file store prunes in a worker: the event loop keeps turning while a call runs, live rows stay", async () => {
    const store = sqliteStore({ path: tempPath() });
    expect(await sqlitePruneMode(store)).toBe("undecided"); // nothing started before the first prune
    await expired(store, 5000);
    const live = record({ expiresAt: null });
    await store.create(live);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    let total = 0;
    let calls = 0;
    try {
      for (;;) {
        const n = await store.pruneExpired(T0 + 100_000, 50_000);
        total += n;
        calls++;
        if (n === 0) break;
      }
    } finally {
      clearInterval(ticker);
    }
    expect(total).toBe(5000);
    expect(await sqlitePruneMode(store)).toBe("worker");
    expect(ticks).toBeGreaterThan(calls); // timers fired while the worker deleted
    expect((await store.get(live.id, T0))?.id).toBe(live.id);
    expect((await store.stats(T0 + 100_000, 1)).total).toBe(1);
    await store.close();
  });

  it("close() lets a call in flight finish, ends the worker, and later calls fail as closed", async () => {
    const store = sqliteStore({ path: tempPath() });
    await expired(store, 3000);
    expect(await store.pruneExpired(T0 + 100_000, 10)).toBe(10); // the worker is up
    const inFlight = store.pruneExpired(T0 + 100_000, 1000);
    await store.close();
    expect(await inFlight).toBeGreaterThan(0);
    await expect(store.pruneExpired(T0 + 100_000, 10)).rejects.toThrow(/closed/);
    await store.close(); // idempotent
  });

  it("falls back to the main thread for :memory:, pruneInWorker: false, and an app database not in WAL mode", async () => {
    const memory = sqliteStore({ path: ":memory:" });
    const off = sqliteStore({ path: tempPath(), pruneInWorker: false });
    const rollback = new Database(tempPath());
    const appRollback = sqliteStore({ database: rollback }); // the store changes no pragma of an app's database
    for (const store of [memory, off, appRollback]) {
      await expired(store, 50);
      expect(await store.pruneExpired(T0 + 100_000, 1000)).toBe(50);
      expect(await sqlitePruneMode(store)).toBe("main thread");
      await store.close();
    }
    expect(rollback.open).toBe(true);
    rollback.close();
  });

  it("an app database in WAL mode is pruned in a worker, and close() leaves it open", async () => {
    const db = new Database(tempPath());
    db.pragma("journal_mode = WAL");
    const store = sqliteStore({ database: db, table: "app_sessions" });
    await expired(store, 200);
    expect(await store.pruneExpired(T0 + 100_000, 1000)).toBe(200);
    expect(await sqlitePruneMode(store)).toBe("worker");
    await store.close();
    expect(db.open).toBe(true);
    expect(db.prepare("SELECT count(*) AS n FROM app_sessions").get()).toEqual({ n: 0 });
    db.close();
  });

  it("a worker that cannot start (the file is locked exclusively) falls back to the main thread", async () => {
    const db = new Database(tempPath());
    db.pragma("journal_mode = WAL");
    db.pragma("locking_mode = EXCLUSIVE"); // no other connection may read the file
    const store = sqliteStore({ database: db, busyTimeout: 0 });
    await expired(store, 100);
    expect(await store.pruneExpired(T0 + 100_000, 1000)).toBe(100);
    expect(await sqlitePruneMode(store)).toBe("main thread");
    await store.close();
    db.close();
  });

  it("a statement failing in the worker is a SessionStoreError naming the cause", async () => {
    const path = tempPath();
    const store = sqliteStore({ path });
    await expired(store, 20);
    expect(await store.pruneExpired(T0 + 100_000, 5)).toBe(5); // the worker is up, its statement prepared
    const raw = new Database(path);
    raw.exec("DROP TABLE sessions");
    raw.close();
    const error = await store.pruneExpired(T0 + 100_000, 5).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).operation).toBe("pruneExpired");
    expect((error as Error).message).toMatch(/no such table/);
    await store.close();
  });
});

describe("sqlite store: errors carry no session values", () => {
  it("a failing write reports the cause without the values it was given", async () => {
    const db = new Database(":memory:");
    const store = sqliteStore({ database: db });
    await store.create(record());
    db.exec("DROP TABLE sessions");
    const r = record({ userId: "user-7f3a9c", ip: "198.51.100.77", userAgent: "AgentSmith/9.9 (distinctive)" });
    const error = await store.create(r).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    const text = `${(error as Error).message}\n${inspect(error, { depth: 10 })}`;
    for (const value of [r.id, r.secretHash, "user-7f3a9c", "198.51.100.77", "AgentSmith"]) expect(text).not.toContain(value);
    await store.close();
    db.close();
  });
});

describe("sqlite store: two processes share one file", () => {
  const distEntry = join(process.cwd(), "dist", "stores", "sqlite.js");

  interface Child {
    ready: Promise<void>;
    go(): void;
    done: Promise<number[]>;
  }

  function child(path: string, id: string, rounds: number): Child {
    // Each round: read the row, then compare-and-set it to version + 1. Prints every version it won.
    const script = `
      const { sqliteStore } = await import(${JSON.stringify(distEntry)});
      const store = sqliteStore({ path: ${JSON.stringify(path)} });
      const won = [];
      // Start together: wait for the parent's "go" once every child has opened the store.
      process.stdout.write("ready\\n");
      await new Promise((resolve) => process.stdin.once("data", resolve));
      for (let i = 0; i < ${rounds}; i++) {
        const row = await store.get(${JSON.stringify(id)}, 0);
        // Let the other processes run between the read and the compare-and-set.
        if (i % 2 === 0) await new Promise((resolve) => setImmediate(resolve));
        const next = { ...row, version: row.version + 1, data: new Uint8Array([process.pid % 256, i % 256]) };
        if (await store.update(next, row.version)) won.push(next.version);
        if (i % 7 === 0) {
          // A rotation (new secret hash) that must fail: the version it names is already gone.
          if (await store.update({ ...next, secretHash: "f".repeat(64) }, row.version)) throw new Error("stale rotation won");
        }
      }
      await store.close();
      process.stdout.write(JSON.stringify(won) + "\\n");
      process.stdin.destroy();
    `;
    const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    proc.stdout.on("data", (d) => {
      out += d;
      if (out.startsWith("ready\n")) markReady();
    });
    proc.stderr.on("data", (d) => {
      err += d;
    });
    const done = new Promise<number[]>((resolve, reject) => {
      proc.on("close", (code) => {
        markReady();
        if (code === 0) resolve(JSON.parse(out.slice("ready\n".length)) as number[]);
        else reject(new Error(`child exited ${code}: ${err}`));
      });
    });
    return { ready, done, go: () => proc.stdin.write("go\n") };
  }

  it("every successful compare-and-set is unique per version across processes", async () => {
    if (!existsSync(distEntry)) throw new Error(`${distEntry} is missing: run \`npm run build\` first (npm test does)`);
    const path = tempPath("shared");
    const store = sqliteStore({ path });
    const row: StoredSession = record({ version: 1, expiresAt: null });
    await store.create(row);
    const rounds = 1000;
    const children = [child(path, row.id, rounds), child(path, row.id, rounds), child(path, row.id, rounds)];
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const results = await Promise.all(children.map((c) => c.done));
    const all = results.flat();
    expect(new Set(all).size).toBe(all.length); // no version won twice
    const final = await store.get(row.id, 0);
    expect(final?.version).toBe(1 + all.length); // every win is one step, none lost
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: all.length }, (_, i) => i + 2));
    // The processes really raced: each won some rounds and lost others.
    for (const won of results) expect(won.length).toBeGreaterThan(0);
    expect(all.length).toBeLessThan(3 * rounds);
    await store.close();
  }, 60_000);
});
