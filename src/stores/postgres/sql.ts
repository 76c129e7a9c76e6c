/**
 * Every SQL statement the PostgreSQL store runs, in one place. Names are checked by the
 * caller and quoted here. Times cross the wire as integer milliseconds and are converted in
 * SQL, so no driver date parsing (or app-wide type parser) can shift them.
 */
import { createHash } from "node:crypto";
import { SCHEMA_VERSION, schemaComment } from "../sql/shared.js";

const quote = (name: string) => `"${name}"`;
/** ms (int8 parameter) -> timestamptz. Division in numeric keeps the milliseconds exact. */
const ts = (param: string) => `to_timestamp(${param}::int8 / 1000.0)`;
/** timestamptz -> ms (int8). `extract(epoch ...)` is exact numeric on PostgreSQL 14+; the cast rounds. */
const ms = (column: string) => `(extract(epoch from ${column}) * 1000)::int8`;
const live = (nowParam: string) => `(expires_at IS NULL OR expires_at > ${ts(nowParam)})`;

const INFO_COLUMNS = `id, user_id, version, ${ms("created_at")} AS created_ms, ${ms("last_active_at")} AS last_active_ms, ${ms("expires_at")} AS expires_ms, ip, user_agent, meta`;

/** A signed 64-bit key for `pg_try_advisory_xact_lock`, stable per schema and table. */
function lockKey(purpose: string, schema: string, table: string): string {
  return createHash("sha256").update(`sessionkit:${purpose}:${schema}.${table}`).digest().readBigInt64BE(0).toString();
}

/** The statements of one table. */
export function postgresSql(schema: string, table: string) {
  const qualified = `${quote(schema)}.${quote(table)}`;
  const migrateLock = lockKey("migrate", schema, table);
  const pruneLock = lockKey("prune", schema, table);

  const ddl = [
    ...(schema === "public" ? [] : [`CREATE SCHEMA IF NOT EXISTS ${quote(schema)};`]),
    `CREATE TABLE IF NOT EXISTS ${qualified} (
  id text PRIMARY KEY,
  user_id text,
  data bytea NOT NULL,
  version bigint NOT NULL,
  created_at timestamptz NOT NULL,
  last_active_at timestamptz NOT NULL,
  expires_at timestamptz,
  ip text,
  user_agent text,
  meta text
);`,
    `CREATE INDEX IF NOT EXISTS ${quote(`${table}_user_id_idx`)} ON ${qualified} (user_id);`,
    `CREATE INDEX IF NOT EXISTS ${quote(`${table}_expires_at_idx`)} ON ${qualified} (expires_at);`,
    `COMMENT ON TABLE ${qualified} IS '${schemaComment(SCHEMA_VERSION)}';`,
  ].join("\n");

  return {
    qualified,
    ddl,
    /**
     * One simple-protocol script: PostgreSQL runs it as one implicit transaction, and the
     * transaction-level advisory lock makes servers that migrate at the same time take turns.
     */
    migrate: `SELECT pg_advisory_xact_lock(${migrateLock});\n${ddl}`,
    /** The version comment, or null when the table does not exist yet. */
    schemaVersion: `SELECT obj_description(to_regclass($1), 'pg_class') AS comment`,
    get: `SELECT ${INFO_COLUMNS}, data FROM ${qualified} WHERE id = $1 AND ${live("$2")}`,
    create: `INSERT INTO ${qualified} (id, user_id, data, version, created_at, last_active_at, expires_at, ip, user_agent, meta)
VALUES ($1, $2, $3, $4, ${ts("$5")}, ${ts("$6")}, ${ts("$7")}, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
    update: `UPDATE ${qualified} SET user_id = $2, data = $3, version = $4, created_at = ${ts("$5")}, last_active_at = ${ts("$6")},
expires_at = ${ts("$7")}, ip = $8, user_agent = $9, meta = $10 WHERE id = $1 AND version = $11`,
    /**
     * Delete-then-insert in one statement, so it is atomic without a transaction: the insert
     * only happens when the compare-and-set delete found the row. A clash on the new id fails
     * the whole statement (the delete included), which the store reports as `false`.
     */
    rotate: `WITH moved AS (DELETE FROM ${qualified} WHERE id = $11 AND version = $12 RETURNING 1)
INSERT INTO ${qualified} (id, user_id, data, version, created_at, last_active_at, expires_at, ip, user_agent, meta)
SELECT $1::text, $2::text, $3::bytea, $4::int8, ${ts("$5")}, ${ts("$6")}, ${ts("$7")}, $8::text, $9::text, $10::text
WHERE EXISTS (SELECT 1 FROM moved)`,
    touch: `UPDATE ${qualified} SET last_active_at = ${ts("$2")}, expires_at = ${ts("$3")} WHERE id = $1`,
    delete: `DELETE FROM ${qualified} WHERE id = $1`,
    listByUser: `SELECT ${INFO_COLUMNS} FROM ${qualified} WHERE user_id = $1 AND ${live("$2")}`,
    deleteByUser: `DELETE FROM ${qualified} WHERE user_id = $1 AND NOT (id = ANY($2::text[])) RETURNING id`,
    /**
     * One bounded batch, by physical row address (`ctid`, a TID scan) so the sub-select's LIMIT
     * applies.
     * The try-lock is transaction-level and taken in the same statement: it is held on exactly
     * one connection and released when the statement ends, even if the app dies meanwhile.
     * When another server holds it, the one-time filter skips the scan and 0 rows are deleted.
     */
    pruneExpired: `DELETE FROM ${qualified} WHERE ctid = ANY(ARRAY(
  SELECT ctid FROM ${qualified}
  WHERE (SELECT pg_try_advisory_xact_lock(${pruneLock})) AND expires_at <= ${ts("$1")}
  LIMIT $2
))`,
    pruneLockKey: pruneLock,
    stats: `SELECT
  (SELECT count(*) FROM ${qualified}) AS total,
  (SELECT count(*) FROM ${qualified} WHERE ${live("$1")}) AS active,
  (SELECT coalesce(json_agg(json_build_object('user_id', user_id, 'n', n)), '[]'::json) FROM (
    SELECT user_id, count(*) AS n FROM ${qualified} WHERE user_id IS NOT NULL AND ${live("$1")}
    GROUP BY user_id ORDER BY n DESC, user_id LIMIT $2
  ) top) AS top`,
  };
}
