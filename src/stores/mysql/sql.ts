/**
 * Every SQL statement the MySQL/MariaDB store runs, in one place. Names are checked by the
 * caller and quoted here. Times are written as UTC `DATETIME(3)` text formatted in JS and read
 * back as integer milliseconds computed in SQL, so neither the server's nor the connection's
 * time zone, nor the driver's date options, can shift them.
 */
import { SCHEMA_VERSION, schemaComment } from "../sql/shared.js";

const quote = (name: string) => `\`${name}\``;
const EPOCH = "'1970-01-01 00:00:00'";
/** DATETIME(3) -> ms. Pure calendar arithmetic: no time zone is involved. */
const ms = (column: string) => `(TIMESTAMPDIFF(MICROSECOND, ${EPOCH}, ${column}) DIV 1000)`;
const LIVE = "(expires_at IS NULL OR expires_at > ?)";

const INFO_COLUMNS = `id, user_id, version, ${ms("created_at")} AS created_ms, ${ms("last_active_at")} AS last_active_ms, ${ms("expires_at")} AS expires_ms, ip, user_agent, meta`;

/** ms -> `YYYY-MM-DD HH:MM:SS.mmm` in UTC, as DATETIME(3) stores it. */
export function datetime(msSinceEpoch: number): string;
export function datetime(msSinceEpoch: number | null): string | null;
export function datetime(msSinceEpoch: number | null): string | null {
  if (msSinceEpoch === null) return null;
  return new Date(msSinceEpoch).toISOString().slice(0, 23).replace("T", " ");
}

/**
 * The row id and the secret hash are VARBINARY: compared byte for byte. A CHAR/VARCHAR column
 * compares by its collation, and even the `_bin` ones are PAD SPACE ('abc' = 'abc '), so only a
 * binary type makes `WHERE id = ?` exact on both MySQL and MariaDB. mysql2 hands them back as
 * Buffers of ASCII hex, which the row mapper turns into strings.
 */
const ID = "VARBINARY(32) NOT NULL";
const SECRET_HASH = "VARBINARY(64) NOT NULL";

/** The statements of one table. */
export function mysqlSql(table: string) {
  const t = quote(table);
  const comment = `COMMENT='${schemaComment(SCHEMA_VERSION)}'`;
  /** The latest schema from nothing (idempotent, destroys nothing). */
  const ddl = `CREATE TABLE IF NOT EXISTS ${t} (
  id ${ID},
  secret_hash ${SECRET_HASH},
  user_id VARCHAR(255) NULL,
  data LONGBLOB NOT NULL,
  version BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  last_active_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NULL,
  ip TEXT NULL,
  user_agent TEXT NULL,
  meta TEXT NULL,
  PRIMARY KEY (id),
  KEY ${quote(`${table}_user_id_idx`)} (user_id),
  KEY ${quote(`${table}_expires_at_idx`)} (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin ${comment};`;

  /**
   * The upgrade steps, by the version each one reaches; never edit one, append the next. MySQL
   * DDL is not transactional, so each step ends with one ALTER TABLE (atomic) that also writes
   * the new version comment: a step cut short is simply run again.
   */
  const steps: Record<number, string[]> = {
    // 2: rows of version 1 are keyed by the hash of the old token, which no new token can name:
    // delete them (old sessions end, users sign in again), then make id the 32-hex row id and
    // add the secret hash, both binary.
    2: [`DELETE FROM ${t}`, `ALTER TABLE ${t} MODIFY id ${ID}, ADD COLUMN secret_hash ${SECRET_HASH} AFTER id, ${comment}`],
  };

  // Lock names are server-wide (all databases) and at most 64 characters: hash database + table.
  const lockName = (purpose: string) => `CONCAT('sessionkit:${purpose}:', SHA1(CONCAT(DATABASE(), '.', '${table}')))`;

  return {
    table: t,
    /** The names a driver message may keep (see `scrubMessage`). */
    names: [table, `${table}_user_id_idx`, `${table}_expires_at_idx`],
    ddl,
    /** The statements that take a table at version `from` to the latest. */
    upgrade: (from: number) =>
      Object.entries(steps)
        .filter(([to]) => Number(to) > from)
        .sort(([a], [b]) => Number(a) - Number(b))
        .flatMap(([, sqls]) => sqls),
    /** Session-level lock held while migrating, so servers that migrate together take turns. */
    migrateLock: `SELECT GET_LOCK(${lockName("migrate")}, 30) AS ok`,
    migrateUnlock: `SELECT RELEASE_LOCK(${lockName("migrate")}) AS ok`,
    schemaVersion:
      "SELECT TABLE_COMMENT AS comment FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    columns: "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    get: `SELECT ${INFO_COLUMNS}, secret_hash, data FROM ${t} WHERE id = ? AND ${LIVE}`,
    create: `INSERT INTO ${t} (id, secret_hash, user_id, data, version, created_at, last_active_at, expires_at, ip, user_agent, meta)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    /** Compare-and-set on version; login and rotation are this update with a new secret hash. */
    update: `UPDATE ${t} SET secret_hash = ?, user_id = ?, data = ?, version = ?, created_at = ?, last_active_at = ?,
expires_at = ?, ip = ?, user_agent = ?, meta = ? WHERE id = ? AND version = ?`,
    /** Only while the secret is the one the caller holds: a rotated row is not refreshed for the old token. */
    touch: `UPDATE ${t} SET last_active_at = ?, expires_at = ? WHERE id = ? AND secret_hash = ?`,
    delete: `DELETE FROM ${t} WHERE id = ?`,
    listByUser: `SELECT ${INFO_COLUMNS} FROM ${t} WHERE user_id = ? AND ${LIVE}`,
    /** deleteByUser locks the user's rows, deletes them by id and reports those ids. */
    lockUserRows: `SELECT id FROM ${t} WHERE user_id = ? FOR UPDATE`,
    deleteIds: `DELETE FROM ${t} WHERE user_id = ? AND id IN (?)`,
    /** `GET_LOCK(name, 0)` does not wait: another server pruning makes this one skip. */
    pruneLock: `SELECT GET_LOCK(${lockName("prune")}, 0) AS ok`,
    pruneUnlock: `SELECT RELEASE_LOCK(${lockName("prune")}) AS ok`,
    /** One bounded batch, oldest expiry first along the expires_at index. */
    pruneBatch: `DELETE FROM ${t} WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
    counts: `SELECT COUNT(*) AS total, COALESCE(SUM(${LIVE}), 0) AS active FROM ${t}`,
    topUsers: `SELECT user_id, COUNT(*) AS n FROM ${t} WHERE user_id IS NOT NULL AND ${LIVE}
GROUP BY user_id ORDER BY n DESC, user_id LIMIT ?`,
  };
}
