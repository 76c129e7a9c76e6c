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

/** The statements of one table. */
export function mysqlSql(table: string) {
  const t = quote(table);
  const ddl = `CREATE TABLE IF NOT EXISTS ${t} (
  id VARCHAR(64) NOT NULL,
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='${schemaComment(SCHEMA_VERSION)}';`;

  // Lock names are server-wide (all databases) and at most 64 characters: hash database + table.
  const lockName = (purpose: string) => `CONCAT('sessionkit:${purpose}:', SHA1(CONCAT(DATABASE(), '.', '${table}')))`;

  return {
    table: t,
    ddl,
    /** Session-level lock held while migrating, so servers that migrate together take turns. */
    migrateLock: `SELECT GET_LOCK(${lockName("migrate")}, 30) AS ok`,
    migrateUnlock: `SELECT RELEASE_LOCK(${lockName("migrate")}) AS ok`,
    schemaVersion:
      "SELECT TABLE_COMMENT AS comment FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    get: `SELECT ${INFO_COLUMNS}, data FROM ${t} WHERE id = ? AND ${LIVE}`,
    create: `INSERT INTO ${t} (id, user_id, data, version, created_at, last_active_at, expires_at, ip, user_agent, meta)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    update: `UPDATE ${t} SET user_id = ?, data = ?, version = ?, created_at = ?, last_active_at = ?, expires_at = ?, ip = ?,
user_agent = ?, meta = ? WHERE id = ? AND version = ?`,
    /** Rotate is a transaction on one connection: this delete, then `create`. */
    deleteVersion: `DELETE FROM ${t} WHERE id = ? AND version = ?`,
    touch: `UPDATE ${t} SET last_active_at = ?, expires_at = ? WHERE id = ?`,
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
