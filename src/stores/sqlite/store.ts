import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { SessionConfigError } from "../../contract/errors.js";
import type { MigrateResult, SessionStore, StoredSession, StoredSessionInfo, StoreStats } from "../../contract/store.js";
import { sqliteChannel } from "./channel.js";
import { type PruneWorker, startPruneWorker } from "./prune-worker.js";
import { blob, type Row, toSession } from "./row.js";
import {
  columnsAt,
  createSql,
  isValidTableName,
  LATEST_VERSION,
  MIGRATIONS,
  type Migration,
  quote,
  schemaScript,
  VERSION_TABLE,
  versionTableSql,
} from "./schema.js";

/** The subset of a better-sqlite3 statement that the store uses. */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/** A better-sqlite3 transaction function (the subset the store uses). */
export interface SqliteTransaction {
  // biome-ignore lint/suspicious/noExplicitAny: better-sqlite3 types the arguments from the wrapped function
  immediate(...params: any[]): unknown;
}

/**
 * The subset of better-sqlite3's `Database` that the store uses, typed structurally so that
 * better-sqlite3 stays an optional peer dependency (a `Database` from it fits this type).
 */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: better-sqlite3 types the arguments from the wrapped function
  transaction(fn: (...args: any[]) => unknown): SqliteTransaction;
  close(): unknown;
  readonly open: boolean;
  readonly name: string;
  readonly memory: boolean;
  readonly readonly: boolean;
}

/** Options for {@link sqliteStore}: give `path` (the store opens and owns the file) or `database`. */
export interface SqliteStoreOptions {
  /**
   * The database file, created if it does not exist (its directory must exist), or
   * `":memory:"` for a private in-memory database (tests).
   */
  path?: string;
  /**
   * A better-sqlite3 `Database` the app already has open. The store uses it as it is (no
   * pragmas changed: enable WAL yourself) and `close()` leaves it open.
   */
  database?: SqliteDatabase;
  /**
   * The sessions table. Its schema version is recorded in the `sessionkit_schema` table.
   * @default "sessions"
   */
  table?: string;
  /**
   * How long a write waits for another connection or process that holds the write lock, in ms.
   * @default 5000
   */
  busyTimeout?: number;
  /**
   * Create or upgrade the schema when the store opens. Set it to `false` when you apply the
   * DDL of `schemaSql()` with your own migration tool; the store then refuses to work until
   * the table exists.
   * @default true
   */
  migrate?: boolean;
  /**
   * Run pruning's DELETE statements in a worker thread with its own connection to the file,
   * so they never block the event loop. Used for a database file in WAL mode (every file the
   * store opens itself); a `:memory:` database, a file not in WAL mode, or a worker that cannot
   * start prune on the main thread in short time slices instead. `false` always does.
   * @default true
   */
  pruneInWorker?: boolean;
}

type DriverConstructor = new (path: string, options?: { timeout?: number; fileMustExist?: boolean }) => SqliteDatabase;

const PREFIX = "[sessionkit] [sqlite]";
const SQLITE_HEADER = "SQLite format 3\0";
/** The columns in the order the statements bind them (`params` below): id first. */
const ROW_COLUMNS = [
  "id",
  "secret_hash",
  "user_id",
  "data",
  "version",
  "created_at",
  "last_active_at",
  "expires_at",
  "ip",
  "user_agent",
  "meta",
] as const;

/**
 * Rows one prune statement deletes: it starts at the most and adapts to how long statements
 * take. Expired rows scattered over the table dirty a few B-tree pages each (table, id and
 * user indexes), so 200 of them can take tens of ms on a slow disk; the step halves after a
 * statement slower than the slice and grows back slowly while statements are quick.
 */
const PRUNE_STEP_MAX = 200;
const PRUNE_STEP_MIN = 4;
/** WAL pages between automatic checkpoints while pruning (the default is 1000). */
const PRUNE_CHECKPOINT_PAGES = 100;
/**
 * How long one `pruneExpired` call keeps deleting, in ms. better-sqlite3 is synchronous, so a
 * call blocks the event loop (and holds the write lock) for as long as it runs; stopping by
 * time as well as by count bounds that stall whatever the backlog. The engine calls again.
 */
const PRUNE_SLICE_MS = 5;

/**
 * A `require` from this module's own location. `__filename` exists in the CommonJS build
 * (where import.meta is empty); the ESM build has import.meta.url. The bundler's own `require`
 * shim cannot be used: it throws under ESM.
 */
const requireHere = () => createRequire(typeof __filename === "string" ? __filename : import.meta.url);

/** Where better-sqlite3 resolves from here (what the prune worker loads), or null. */
function driverPath(): string | null {
  try {
    return requireHere().resolve("better-sqlite3");
  } catch {
    return null;
  }
}

/** Loads better-sqlite3 only when a store is created, so importing this module never needs it. */
function loadDriver(): DriverConstructor {
  const load = requireHere();
  try {
    const mod = load("better-sqlite3") as DriverConstructor | { default: DriverConstructor };
    return "default" in mod ? mod.default : mod;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND") {
      throw new SessionConfigError(
        `${PREFIX} sqliteStore() needs the better-sqlite3 package, which is not installed. Run \`npm install better-sqlite3\`.`,
        { cause: error },
      );
    }
    throw new SessionConfigError(
      `${PREFIX} better-sqlite3 is installed but failed to load (${(error as Error).message}). Run \`npm rebuild better-sqlite3\` for this Node.js version.`,
      { cause: error },
    );
  }
}

const isMemoryPath = (path: string) => path === ":memory:" || path === "";

/**
 * Checks a database path before anything opens it, so that a bad path fails with a message
 * that names it and says what to do, and nothing is created or changed.
 */
function checkPath(path: string): void {
  const abs = resolve(path);
  const dir = dirname(abs);
  if (!existsSync(dir)) {
    throw new SessionConfigError(
      `${PREFIX} cannot open ${abs}: the directory ${dir} does not exist. Create it first (mkdir -p ${JSON.stringify(dir)}) or pass another path.`,
    );
  }
  if (!statSync(dir).isDirectory()) {
    throw new SessionConfigError(`${PREFIX} cannot open ${abs}: ${dir} is not a directory. Pass another path.`);
  }
  if (!existsSync(abs)) return;
  const stat = statSync(abs);
  if (!stat.isFile()) {
    throw new SessionConfigError(
      `${PREFIX} cannot open ${abs}: it is not a regular file. Pass the path of a SQLite database file.`,
    );
  }
  // Checked on the mode bits, not with access(): a process running as root may write to any
  // file, but a file that nobody may write was made read-only on purpose.
  if ((stat.mode & 0o222) === 0) {
    throw new SessionConfigError(
      `${PREFIX} cannot use ${abs}: the file is read-only and sessions are written to it. Make it writable (chmod u+w ${JSON.stringify(abs)}) or pass another path.`,
    );
  }
  if (stat.size > 0) {
    const header = Buffer.alloc(16);
    const fd = openSync(abs, "r");
    try {
      readSync(fd, header, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
    if (header.toString("latin1") !== SQLITE_HEADER) {
      throw new SessionConfigError(
        `${PREFIX} cannot use ${abs}: it is not a SQLite database. Nothing was changed. Pass the path of a SQLite file, or of a file that does not exist yet to create one.`,
      );
    }
  }
}

/** Turns a driver error met while opening into one that names the path and what to do. */
function openError(where: string, error: unknown): Error {
  const code = String((error as { code?: unknown }).code ?? "");
  const message = (error as Error).message ?? String(error);
  if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT")) {
    return new SessionConfigError(
      `${PREFIX} cannot use ${where}: it is not a SQLite database or it is damaged (${message}). Pass another path, or restore the file from a backup.`,
      { cause: error },
    );
  }
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_PERM")) {
    return new SessionConfigError(
      `${PREFIX} cannot write to ${where} (${message}). Check that the file and its directory are writable by this process.`,
      { cause: error },
    );
  }
  if (error instanceof SessionConfigError) return error;
  return new SessionConfigError(`${PREFIX} cannot open ${where}: ${message}`, { cause: error });
}

/** The schema state of one table, read without writing anything. */
type SchemaState = { table: "missing" | "present"; version: number };

/** A SQLite store: a `SessionStore` whose `migrate()` and `schemaSql()` always exist. */
export interface SqliteStore extends SessionStore {
  /**
   * Creates or upgrades the schema (opening the store already did, unless `migrate: false`);
   * idempotent. Reports what it did.
   */
  migrate(): Promise<MigrateResult>;
  /** The DDL of the latest schema from nothing, for your own migration tool. */
  schemaSql(): string;
}

/** Creates the store (see `sqliteStore`). */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  if (options === null || typeof options !== "object") {
    throw new SessionConfigError(`${PREFIX} sqliteStore() takes { path } or { database }`);
  }
  const { path, database, table = "sessions", busyTimeout = 5000, migrate: autoMigrate = true, pruneInWorker = true } = options;
  if ((path === undefined) === (database === undefined)) {
    throw new SessionConfigError(
      `${PREFIX} give exactly one of path (a file, or ":memory:") and database (an open better-sqlite3 Database)`,
    );
  }
  if (path !== undefined && typeof path !== "string") {
    throw new SessionConfigError(`${PREFIX} path must be a string, got ${typeof path}`);
  }
  if (typeof table !== "string" || !isValidTableName(table)) {
    throw new SessionConfigError(
      `${PREFIX} table must be a plain SQL identifier (letters, digits, _; not "sqlite_*" or "${VERSION_TABLE}"), got ${JSON.stringify(table)}`,
    );
  }
  if (!Number.isInteger(busyTimeout) || busyTimeout < 0) {
    throw new SessionConfigError(`${PREFIX} busyTimeout must be a non-negative integer of milliseconds, got ${busyTimeout}`);
  }
  if (typeof pruneInWorker !== "boolean") {
    throw new SessionConfigError(`${PREFIX} pruneInWorker must be true or false, got ${JSON.stringify(pruneInWorker)}`);
  }
  const latest = LATEST_VERSION;
  const owned = database === undefined;
  const where =
    path === undefined
      ? `the given database (${database?.name || "in memory"})`
      : isMemoryPath(path)
        ? ":memory:"
        : resolve(path);

  let db: SqliteDatabase;
  if (database !== undefined) {
    if (!database || typeof database.prepare !== "function" || !database.open) {
      throw new SessionConfigError(`${PREFIX} database must be an open better-sqlite3 Database`);
    }
    db = database;
  } else {
    const file = path as string;
    const Driver = loadDriver();
    if (!isMemoryPath(file)) checkPath(file);
    try {
      db = new Driver(file, { timeout: busyTimeout });
    } catch (error) {
      throw openError(where, error);
    }
  }

  const T = quote(table);

  /** Reads where the schema stands; throws (changing nothing) if the table is not ours. */
  function inspect(): SchemaState {
    const master = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)")
      .all(table, VERSION_TABLE) as Array<{
      name: string;
    }>;
    const hasTable = master.some((r) => r.name === table);
    const hasVersions = master.some((r) => r.name === VERSION_TABLE);
    const recorded = hasVersions
      ? ((
          db.prepare(`SELECT version FROM ${quote(VERSION_TABLE)} WHERE table_name = ?`).get(table) as
            | { version: number }
            | undefined
        )?.version ?? null)
      : null;
    if (recorded !== null && recorded > latest) {
      throw new SessionConfigError(
        `${PREFIX} the table "${table}" in ${where} is at schema version ${recorded}, newer than this sessionkit knows (${latest}). Nothing was changed. Upgrade sessionkit.`,
      );
    }
    if (!hasTable) return { table: "missing", version: 0 };
    const columns = db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(table) as Array<{ name: string; type: string }>;
    // A table with our columns but no recorded version was made from schemaSql() by hand:
    // its columns tell which version it is.
    const version = recorded ?? (columns.some((c) => c.name.toLowerCase() === "secret_hash") ? latest : 1);
    const problems: string[] = [];
    for (const [name, type] of Object.entries(columnsAt(version))) {
      const found = columns.find((c) => c.name.toLowerCase() === name);
      if (!found) problems.push(`no column ${name}`);
      else if (found.type.toUpperCase() !== type) problems.push(`column ${name} is ${found.type || "untyped"}, not ${type}`);
    }
    if (problems.length > 0) {
      throw new SessionConfigError(
        `${PREFIX} the table "${table}" in ${where} was not created by sessionkit (${problems.join("; ")}). Nothing was changed. ` +
          `Give sessionkit its own table (sqliteStore({ table: "app_sessions" }), or ?table=app_sessions in a CLI store URL), or move that table away.`,
      );
    }
    return { table: "present", version };
  }

  /**
   * Creates or upgrades the schema; a no-op (and no write lock) when it is current. A missing
   * table is created at the latest version; an older one gets the steps after its version.
   */
  function migrateNow(): MigrateResult {
    try {
      const state = inspect();
      if (state.version >= latest && hasVersionRecord()) return { action: "current", from: state.version, to: latest };
    } catch (error) {
      throw openError(where, error);
    }
    const run = db.transaction((): number => {
      // Read again under the write lock: another process may have migrated meanwhile.
      const state = inspect();
      db.exec(versionTableSql());
      if (state.table === "missing") for (const sql of createSql(table)) db.exec(sql);
      else {
        for (let v = state.version + 1; v <= latest; v++) {
          for (const sql of (MIGRATIONS[v - 1] as Migration)(table)) db.exec(sql);
        }
      }
      db.prepare(
        `INSERT INTO ${quote(VERSION_TABLE)} (table_name, version, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (table_name) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
      ).run(table, latest, Date.now());
      return state.version;
    });
    let from: number;
    try {
      from = run.immediate() as number;
    } catch (error) {
      throw openError(where, error);
    }
    statements = null;
    outdated = null;
    return { action: from === 0 ? "created" : from < latest ? "upgraded" : "current", from, to: latest };
  }

  function hasVersionRecord(): boolean {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(VERSION_TABLE);
    return (
      exists !== undefined && db.prepare(`SELECT 1 FROM ${quote(VERSION_TABLE)} WHERE table_name = ?`).get(table) !== undefined
    );
  }

  let statements: ReturnType<typeof prepareAll> | null = null;
  /** Rows per prune statement now (see PRUNE_STEP_MAX); remembered across calls. */
  let pruneStep = PRUNE_STEP_MAX;
  let closed = false;
  /**
   * The prune worker: undefined until the first prune, a promise of it while it starts or runs,
   * null where pruning stays on the main thread (decided once: see `pruneWorker()`).
   */
  let pruner: Promise<PruneWorker | null> | null | undefined = pruneInWorker ? undefined : null;
  /** The version of a table `migrate: false` found older than this release needs; null when fine. */
  let outdated: number | null = null;

  try {
    // Validate before changing anything: a foreign table or a file that is not a database
    // fails here with the file untouched.
    const state = inspect();
    if (owned && path !== undefined && !isMemoryPath(path)) {
      // WAL: readers never block the writer and the writer never blocks readers.
      db.pragma("journal_mode = WAL");
      // Safe with WAL: a power loss may drop the last commits, never corrupt the file.
      db.pragma("synchronous = NORMAL");
    }
    if (owned) db.pragma(`busy_timeout = ${busyTimeout}`);
    if (autoMigrate) migrateNow();
    // Not at open: so that `migrate: false` then `migrate()` can upgrade (and say so), every
    // operation refuses the old table until then, as for a missing one.
    else if (state.table === "present" && state.version < latest) outdated = state.version;
  } catch (error) {
    if (owned) db.close();
    throw openError(where, error);
  }

  function prepareAll() {
    const cols = ROW_COLUMNS.join(", ");
    const live = "(expires_at IS NULL OR expires_at > ?)";
    return {
      get: db.prepare(`SELECT ${cols} FROM ${T} WHERE id = ? AND ${live}`),
      create: db.prepare(
        `INSERT INTO ${T} (${cols}) VALUES (${ROW_COLUMNS.map(() => "?").join(", ")}) ON CONFLICT (id) DO NOTHING`,
      ),
      // Compare-and-set on version; login and rotation are this update with a new secret hash.
      update: db.prepare(
        `UPDATE ${T} SET ${ROW_COLUMNS.slice(1)
          .map((c) => `${c} = ?`)
          .join(", ")} WHERE id = ? AND version = ?`,
      ),
      // Only while the secret is the one the caller holds: a rotated row is not refreshed for the old token.
      touch: db.prepare(`UPDATE ${T} SET last_active_at = ?, expires_at = ? WHERE id = ? AND secret_hash = ?`),
      delete: db.prepare(`DELETE FROM ${T} WHERE id = ?`),
      listByUser: db.prepare(
        `SELECT id, '' AS secret_hash, user_id, NULL AS data, version, created_at, last_active_at, expires_at, ip, user_agent, meta FROM ${T} WHERE user_id = ? AND ${live}`,
      ),
      deleteByUser: db.prepare(`DELETE FROM ${T} WHERE user_id = ? AND id NOT IN (SELECT value FROM json_each(?)) RETURNING id`),
      prune: db.prepare(`DELETE FROM ${T} WHERE rowid IN (SELECT rowid FROM ${T} WHERE expires_at <= ? LIMIT ?)`),
      counts: db.prepare(`SELECT count(*) AS total, coalesce(sum(${live}), 0) AS active FROM ${T}`),
      topUsers: db.prepare(
        `SELECT user_id AS userId, count(*) AS count FROM ${T} WHERE user_id IS NOT NULL AND ${live} GROUP BY user_id ORDER BY count DESC, user_id LIMIT ?`,
      ),
    };
  }

  /** The prepared statements, made once and reused for the life of the store. */
  function stmts() {
    if (closed) throw new SessionConfigError(`${PREFIX} the store for ${where} is closed`);
    if (statements) return statements;
    if (outdated !== null) {
      throw new SessionConfigError(
        `${PREFIX} the table "${table}" in ${where} is at schema version ${outdated}, this sessionkit needs ${latest}. Run store.migrate() or \`sessionkit migrate\`.`,
      );
    }
    try {
      statements = prepareAll();
    } catch (error) {
      if (/no such table/i.test((error as Error).message)) {
        throw new SessionConfigError(
          `${PREFIX} the table "${table}" does not exist in ${where}. Run store.migrate() (or \`sessionkit migrate\`), or apply the DDL of store.schemaSql().`,
          { cause: error },
        );
      }
      throw error;
    }
    return statements;
  }

  /**
   * The worker that runs prune statements off the main thread, started on the first prune;
   * null when pruning stays here: the option is off, the database is in memory or not in WAL
   * mode (then a writer on another connection would block this one's readers), better-sqlite3
   * cannot be found from here, or the worker failed to start. A worker that ended (idle,
   * crashed) is started again on the next prune; one that could not start is not retried.
   */
  function pruneWorker(): Promise<PruneWorker | null> {
    if (pruner === null) return Promise.resolve(null);
    if (pruner !== undefined) return pruner;
    const target = workerTarget();
    if (target === null) {
      pruner = null;
      return Promise.resolve(null);
    }
    let handle: Promise<PruneWorker | null>;
    try {
      handle = startPruneWorker({
        ...target,
        table,
        busyTimeout,
        onGone: () => {
          if (pruner === handle) pruner = undefined;
        },
      }).catch(() => {
        if (!closed) pruner = null;
        return null;
      });
    } catch {
      // new Worker() itself threw (no threads allowed, e.g. under a permission model).
      pruner = null;
      return Promise.resolve(null);
    }
    pruner = handle;
    return handle;
  }

  /** The file and settings a worker connection needs, or null when a worker cannot work here. */
  function workerTarget(): { driver: string; file: string; synchronous: number } | null {
    if (db.memory || db.readonly) return null;
    const main = (db.pragma("database_list") as Array<{ name: string; file: string }>).find((d) => d.name === "main");
    if (!main?.file || !existsSync(main.file)) return null;
    if (String(db.pragma("journal_mode", { simple: true })).toLowerCase() !== "wal") return null;
    const driver = driverPath();
    if (driver === null) return null;
    return { driver, file: main.file, synchronous: Number(db.pragma("synchronous", { simple: true })) };
  }

  /**
   * Pruning on the main thread (the fallback): small statements until `limit` rows or
   * PRUNE_SLICE_MS. Each commits on its own, so other connections and processes get the write
   * lock in between, and the event loop is never held longer than about one slice however many
   * rows have expired.
   */
  function pruneHere(prune: SqliteStatement, now: number, limit: number): number {
    const started = performance.now();
    let deleted = 0;
    // Scattered deletes fill the WAL fast, and the automatic checkpoint that then runs inside
    // a commit copies it all back at once (tens of ms for the default 1000 pages): while
    // pruning, checkpoint in small pieces instead, and restore the connection's setting after.
    const checkpointPages = db.pragma("wal_autocheckpoint", { simple: true }) as number;
    if (checkpointPages > PRUNE_CHECKPOINT_PAGES) db.pragma(`wal_autocheckpoint = ${PRUNE_CHECKPOINT_PAGES}`);
    try {
      while (deleted < limit) {
        const step = Math.min(pruneStep, limit - deleted);
        const before = performance.now();
        const n = prune.run(now, step).changes;
        const took = performance.now() - before;
        if (took > PRUNE_SLICE_MS) pruneStep = Math.max(PRUNE_STEP_MIN, pruneStep >> 1);
        else if (took < PRUNE_SLICE_MS / 4) pruneStep = Math.min(PRUNE_STEP_MAX, pruneStep + (pruneStep >> 2) + 1);
        deleted += n;
        if (n < step || performance.now() - started >= PRUNE_SLICE_MS) break;
      }
    } finally {
      if (checkpointPages > PRUNE_CHECKPOINT_PAGES) db.pragma(`wal_autocheckpoint = ${checkpointPages}`);
    }
    return deleted;
  }

  /** Every column but id, in the order of `ROW_COLUMNS`. */
  const params = (s: StoredSession) =>
    [
      s.secretHash,
      s.userId,
      blob(s.data),
      s.version,
      s.createdAt,
      s.lastActiveAt,
      s.expiresAt,
      s.ip,
      s.userAgent,
      s.meta,
    ] as const;

  const store: SqliteStore = {
    name: "sqlite",
    // The near-cache's channel (createSessions({ cache })): in-process, plus PRAGMA data_version for other connections.
    invalidation: sqliteChannel(db),
    async get(id, now) {
      const row = stmts().get.get(id, now) as Row | undefined;
      return row ? toSession(row, now).session : null;
    },
    async create(s) {
      return stmts().create.run(s.id, ...params(s)).changes === 1;
    },
    async update(s, expectedVersion) {
      return stmts().update.run(...params(s), s.id, expectedVersion).changes === 1;
    },
    async touch(id, secretHash, lastActiveAt, expiresAt) {
      return stmts().touch.run(lastActiveAt, expiresAt, id, secretHash).changes === 1;
    },
    async delete(id) {
      return stmts().delete.run(id).changes === 1;
    },
    async listByUser(userId, now) {
      const out: StoredSessionInfo[] = [];
      for (const row of stmts().listByUser.all(userId, now) as Row[]) {
        const { session, damaged } = toSession({ ...row, data: Buffer.alloc(0) }, now);
        if (damaged) continue;
        const { data: _data, secretHash: _hash, ...info } = session;
        out.push(info);
      }
      return out;
    },
    async deleteByUser(userId, except = []) {
      const rows = stmts().deleteByUser.all(userId, JSON.stringify(except)) as Array<{ id: string }>;
      return rows.map((r) => r.id);
    },
    async pruneExpired(now, limit) {
      const { prune } = stmts();
      if (limit <= 0) return 0;
      const worker = await pruneWorker();
      if (worker) return worker.prune(now, limit);
      if (closed) throw new SessionConfigError(`${PREFIX} the store for ${where} is closed`);
      return pruneHere(prune, now, limit);
    },
    async stats(now, topUsers): Promise<StoreStats> {
      const st = stmts();
      const { total, active } = st.counts.get(now) as { total: number; active: number };
      const top = st.topUsers.all(now, topUsers) as Array<{ userId: string; count: number }>;
      return { total, active, expired: total - active, topUsers: top };
    },
    async close() {
      if (closed) return;
      closed = true;
      statements = null;
      // The worker first: it finishes its batch and closes its own connection.
      const worker = await pruner?.catch(() => null);
      pruner = null;
      await worker?.close();
      if (owned && db.open) db.close();
    },
    async migrate() {
      if (closed) throw new SessionConfigError(`${PREFIX} the store for ${where} is closed`);
      return migrateNow();
    },
    schemaSql() {
      return schemaScript(table);
    },
  };
  pruneModes.set(store, async () => {
    if (pruner === undefined) return "undecided";
    return (await pruner) ? "worker" : "main thread";
  });
  return store;
}

const pruneModes = new WeakMap<SessionStore, () => Promise<"worker" | "main thread" | "undecided">>();

/**
 * Where a SQLite store's prune runs (internal, for tests): "worker" once a worker answers,
 * "main thread" where it fell back, "undecided" before the first prune (or after an idle worker ended).
 */
export function sqlitePruneMode(store: SessionStore): Promise<"worker" | "main thread" | "undecided"> {
  const mode = pruneModes.get(store);
  if (!mode) throw new TypeError("not a SQLite store");
  return mode();
}

/** The DDL of a fresh schema for `table` (what `store.schemaSql()` returns), without opening a database. */
export function sqliteSchemaSql(table = "sessions"): string {
  if (typeof table !== "string" || !isValidTableName(table)) {
    throw new SessionConfigError(`${PREFIX} table must be a plain SQL identifier, got ${JSON.stringify(table)}`);
  }
  return schemaScript(table);
}
