/**
 * The SQLite schema and its migrations.
 *
 * Each table sessionkit owns has its schema version recorded in `sessionkit_schema`
 * (one row per table, so several session tables can share one database file). `migrate()`
 * applies the steps after the recorded version, in one transaction. A later release that
 * changes the schema appends a step here: it never edits an earlier one, so a database at any
 * older version upgrades without losing sessions.
 */

/** The table that records which schema version each session table is at. */
export const VERSION_TABLE = "sessionkit_schema";

/** The columns sessionkit reads and writes, with the type each must have. */
export const COLUMNS = {
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
];

export const LATEST_VERSION = MIGRATIONS.length;

export const versionTableSql = () =>
  `CREATE TABLE IF NOT EXISTS ${quote(VERSION_TABLE)} (
  table_name TEXT PRIMARY KEY NOT NULL,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
)`;

/**
 * The whole DDL for a fresh database at the latest version, as one script (what `migrate()`
 * does on an empty database, and what `sessionkit schema` prints).
 */
export function schemaScript(table: string, migrations: readonly Migration[] = MIGRATIONS): string {
  const lines = [
    `-- sessionkit SQLite schema, version ${migrations.length}, table ${table}`,
    "-- Times are integer milliseconds since the epoch; expires_at NULL = never.",
    `${versionTableSql()};`,
    ...migrations.flatMap((step) => step(table).map((sql) => `${sql};`)),
    `INSERT INTO ${quote(VERSION_TABLE)} (table_name, version, updated_at) VALUES ('${table}', ${migrations.length}, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))`,
    `  ON CONFLICT (table_name) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at;`,
  ];
  return `${lines.join("\n")}\n`;
}
