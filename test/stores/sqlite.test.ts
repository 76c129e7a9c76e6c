import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createSessions, SessionConfigError, type SessionEvents, type StoredSession } from "../../src/index.js";
import { MIGRATIONS, type Migration } from "../../src/stores/sqlite/schema.js";
import { createSqliteStore } from "../../src/stores/sqlite/store.js";
import { sqliteSchemaSql, sqliteStore } from "../../src/stores/sqlite.js";
import { newId, record, runStoreConformance } from "../conformance/store.case.js";

const dir = mkdtempSync(join(tmpdir(), "sessionkit-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const tempPath = (name = "s") => join(dir, `${name}-${process.pid}-${++counter}.sqlite`);
const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const SECRET = "sqlite-test-secret-0123456789abcdef0123456789";
const T0 = 1_700_000_000_123;

runStoreConformance("sqlite (file)", { makeStore: async () => sqliteStore({ path: tempPath() }) });
runStoreConformance("sqlite (:memory:)", { makeStore: async () => sqliteStore({ path: ":memory:" }) });
runStoreConformance("sqlite (app-owned Database)", {
  makeStore: async () => sqliteStore({ database: new Database(":memory:"), table: "app_sessions" }),
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

  it("from an older schema version: upgrades in place without losing sessions", async () => {
    const path = tempPath();
    const v1 = createSqliteStore({ path }, MIGRATIONS.slice(0, 1));
    const r = record({ userId: "kept" });
    await v1.create(r);
    await v1.close();
    expect(versionOf(path)).toBe(1);

    // A later release appends a step; opening with it applies only that step.
    const step2: Migration = (table) => [
      `ALTER TABLE "${table}" ADD COLUMN device TEXT`,
      `CREATE INDEX IF NOT EXISTS "${table}_last_active" ON "${table}" (last_active_at)`,
    ];
    const v2 = createSqliteStore({ path }, [...MIGRATIONS.slice(0, 1), step2]);
    const got = await v2.get(r.id, T0);
    expect(got?.userId).toBe("kept");
    expect(Buffer.from(got?.data ?? []).equals(Buffer.from(r.data))).toBe(true);
    await v2.migrate?.(); // idempotent: the ALTER TABLE is not run twice
    await v2.close();
    expect(versionOf(path)).toBe(2);

    // This release (version 1) refuses a database a newer release upgraded, and touches nothing.
    const before = sha(path);
    expect(() => sqliteStore({ path })).toThrow(/schema version 2, newer than this sessionkit knows \(1\).*Upgrade sessionkit/);
    expect(sha(path)).toBe(before);
  });

  it("migrate: false with a table at an older version asks to migrate", async () => {
    const path = tempPath();
    await createSqliteStore({ path }, MIGRATIONS.slice(0, 1)).close();
    const step2: Migration = (table) => [`CREATE INDEX IF NOT EXISTS "${table}_x" ON "${table}" (created_at)`];
    expect(() => createSqliteStore({ path, migrate: false }, [...MIGRATIONS, step2])).toThrow(/version 1.*needs 2.*migrate/);
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
    expect(versionOf(path, "own_tool")).toBe(1);
    expect(before).not.toBe(""); // the file was used as is
  });

  it("a table with our columns but no recorded version (made by hand) is adopted", async () => {
    const path = tempPath();
    const db = new Database(path);
    for (const sql of (MIGRATIONS[0] as Migration)("sessions")) db.exec(sql);
    db.close();
    const store = sqliteStore({ path });
    await store.create(record());
    await store.close();
    expect(versionOf(path)).toBe(1);
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
  it("sessions.prune() deletes in bounded batches while requests keep working", async () => {
    const store = sqliteStore({ path: tempPath() });
    const calls: number[] = [];
    const counted = {
      ...store,
      pruneExpired: async (now: number, limit: number) => {
        const n = await store.pruneExpired(now, limit);
        calls.push(n);
        return n;
      },
    };
    for (let i = 0; i < 2500; i++) await store.create(record({ expiresAt: T0 + i, data: new Uint8Array(8) }));
    const live = record({ expiresAt: null });
    await store.create(live);
    const sessions = createSessions({ store: counted, secrets: [SECRET], pruneBatchSize: 1000, clock: () => T0 + 10_000 });
    const reads = Array.from({ length: 20 }, () => store.get(live.id, T0));
    const [pruned, ...got] = await Promise.all([sessions.prune(), ...reads]);
    expect(pruned).toBe(2500);
    expect(calls).toEqual([1000, 1000, 500]);
    expect(got.every((g) => g?.id === live.id)).toBe(true);
    expect((await store.stats(T0 + 10_000, 10)).total).toBe(1);
    await sessions.close();
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
          const moved = { ...next, id: "x".repeat(64) };
          // A rotate that must fail: the version it names is already gone.
          if (await store.rotate(${JSON.stringify(id)}, row.version, moved)) throw new Error("stale rotate won");
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
