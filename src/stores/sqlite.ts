import { createSqliteStore, type SqliteStore, type SqliteStoreOptions } from "./sqlite/store.js";

export type { SqliteDatabase, SqliteStatement, SqliteStore, SqliteStoreOptions, SqliteTransaction } from "./sqlite/store.js";

/**
 * A session store in a SQLite database, through better-sqlite3 (an optional peer dependency:
 * `npm install better-sqlite3`). The embedded default: no server to run, and several
 * processes on one machine may share the file.
 *
 * Opening the store creates or upgrades its schema (`migrate: false` leaves that to you: see
 * `schemaSql()`). A file the store opens itself is switched to WAL mode with a busy timeout;
 * every statement is prepared once and reused. Pruning deletes in small statements in a worker
 * thread with its own connection to the file (WAL: the app's readers never wait for it), so it
 * never blocks the event loop; a `:memory:` database, an app's database not in WAL mode, or a
 * worker that cannot start prune on the main thread in slices of a few milliseconds instead.
 *
 * @example
 * ```ts
 * import { createSessions } from "sessionkit";
 * import { sqliteStore } from "sessionkit/sqlite";
 *
 * const sessions = createSessions({
 *   store: sqliteStore({ path: "sessions.sqlite" }),
 *   secrets: [process.env.SESSION_SECRET!],
 *   pruneInterval: "1h",
 * });
 * ```
 *
 * @example An app that already has a better-sqlite3 database (close() leaves it open):
 * ```ts
 * import Database from "better-sqlite3";
 * const db = new Database("app.sqlite");
 * db.pragma("journal_mode = WAL");
 * const store = sqliteStore({ database: db, table: "app_sessions" });
 * ```
 */
export function sqliteStore(options: SqliteStoreOptions): SqliteStore {
  return createSqliteStore(options);
}

/** The DDL of a fresh SQLite schema for `table` (what `store.schemaSql()` returns), without opening anything. */
export { sqliteSchemaSql } from "./sqlite/store.js";
