/**
 * The SQLite schema and its migrations.
 *
 * Each table sessionkit owns has its schema version recorded in `sessionkit_schema`
 * (one row per table, so several session tables can share one database file). A missing table
 * is created at the latest version from `createSql`; an existing one gets the steps after its
 * recorded version, in one transaction. A release that changes the schema appends a step here
 * (and updates `createSql`): it never edits an earlier step, so a database at any older version
 * upgrades in place.
 */

/** The table that records which schema version each session table is at. */
export const VERSION_TABLE = "sessionkit_schema";

/** The columns of schema version 1, with the type each must have. */
const COLUMNS_V1 = {
  id: "TEXT",
  user_id: "TEXT",
  data: "BLOB",
  version: "INTEGER",
  created_at: "INTEGER",
  last_active_at: "INTEGER",
  expires_at: "INTEGER",
  ip: "TEXT",
  user_agent: "TEXT",
  meta: "TEXT",
} as const;

/** The columns sessionkit reads and writes at the latest version, with the type each must have. */
export const COLUMNS = { ...COLUMNS_V1, secret_hash: "TEXT" } as const;

/** The columns a table at `version` must have. */
export const columnsAt = (version: number): Record<string, string> => (version >= 2 ? COLUMNS : COLUMNS_V1);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Checks a table name (it is interpolated into SQL, so only plain identifiers pass). */
export function isValidTableName(table: string): boolean {
  return IDENTIFIER.test(table) && !table.toLowerCase().startsWith("sqlite_") && table !== VERSION_TABLE;
}

export const quote = (name: string) => `"${name}"`;

/** One schema step: the statements that take a table from version `n - 1` to `n`. */
export type Migration = (table: string) => string[];

/**
 * Every schema step, oldest first; the schema version is the number of steps applied.
 * Times are INTEGER milliseconds, data is an opaque BLOB, `expires_at` NULL = never.
 */
export const MIGRATIONS: readonly Migration[] = [
  // 1: the sessions table, with indexes for listing/revoking a user's sessions and for pruning.
  (table) => [
    `CREATE TABLE IF NOT EXISTS ${quote(table)} (
  id TEXT PRIMARY KEY NOT NULL,
  user_id TEXT,
  data BLOB NOT NULL,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_active_at INTEGER NOT NULL,
  expires_at INTEGER,
  ip TEXT,
  user_agent TEXT,
  meta TEXT
)`,
    `CREATE INDEX IF NOT EXISTS ${quote(`${table}_user_id`)} ON ${quote(table)} (user_id)`,
    `CREATE INDEX IF NOT EXISTS ${quote(`${table}_expires_at`)} ON ${quote(table)} (expires_at)`,
  ],
  // 2: the token became `<row id>.<secret>` with only SHA-256(secret) stored. Rows of version 1
  // are keyed by the hash of the old token, which no new token can name: delete them (old
  // sessions simply end; users sign in again), then add the secret hash. SQLite adds a NOT NULL
  // column only with a default; '' never equals a 64-hex hash, so such a row matches no token.
  (table) => [`DELETE FROM ${quote(table)}`, `ALTER TABLE ${quote(table)} ADD COLUMN secret_hash TEXT NOT NULL DEFAULT ''`],
];

export const LATEST_VERSION = MIGRATIONS.length;

/**
 * The latest schema from nothing: what `migrate()` runs on a database without the table. Every
 * statement is idempotent and destroys nothing, so the script can be applied again.
 */
export const createSql = (table: string): string[] => [
  `CREATE TABLE IF NOT EXISTS ${quote(table)} (
  id TEXT PRIMARY KEY NOT NULL,
  secret_hash TEXT NOT NULL,
  user_id TEXT,
  data BLOB NOT NULL,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_active_at INTEGER NOT NULL,
  expires_at INTEGER,
  ip TEXT,
  user_agent TEXT,
  meta TEXT
)`,
  `CREATE INDEX IF NOT EXISTS ${quote(`${table}_user_id`)} ON ${quote(table)} (user_id)`,
  `CREATE INDEX IF NOT EXISTS ${quote(`${table}_expires_at`)} ON ${quote(table)} (expires_at)`,
];

export const versionTableSql = () =>
  `CREATE TABLE IF NOT EXISTS ${quote(VERSION_TABLE)} (
  table_name TEXT PRIMARY KEY NOT NULL,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
)`;

/**
 * The whole DDL for a fresh database at the latest version, as one script (what `migrate()`
 * does on an empty database, and what `sessionkit schema` prints). It creates; it does not
 * upgrade: a table of an older version needs `migrate()` (the steps above).
 */
export function schemaScript(table: string): string {
  const lines = [
    `-- sessionkit SQLite schema, version ${LATEST_VERSION}, table ${table}`,
    "-- Times are integer milliseconds since the epoch; expires_at NULL = never.",
    "-- Creates a missing table; a table of an older version is upgraded by store.migrate().",
    `${versionTableSql()};`,
    ...createSql(table).map((sql) => `${sql};`),
    `INSERT INTO ${quote(VERSION_TABLE)} (table_name, version, updated_at) VALUES ('${table}', ${LATEST_VERSION}, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))`,
    // DO NOTHING: run by hand on a database of an older version, the script must not mark a
    // table it did not upgrade as current (migrate() then upgrades it).
    `  ON CONFLICT (table_name) DO NOTHING;`,
  ];
  return `${lines.join("\n")}\n`;
}
