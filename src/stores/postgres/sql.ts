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
  const comment = `COMMENT ON TABLE ${qualified} IS '${schemaComment(SCHEMA_VERSION)}';`;

  /** The latest schema from nothing; every statement is idempotent and destroys nothing. */
  const ddl = [
    ...(schema === "public" ? [] : [`CREATE SCHEMA IF NOT EXISTS ${quote(schema)};`]),
    `CREATE TABLE IF NOT EXISTS ${qualified} (
  id text PRIMARY KEY,
  secret_hash text NOT NULL,
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
    comment,
  ].join("\n");

  /**
   * The upgrade steps, by the version each one reaches; never edit one, append the next.
   * Each checks the table under the migration lock, so a server that read an old version just
   * before another one upgraded does nothing a second time (and deletes no new session).
   */
  const steps: Record<number, string> = {
    // 2: rows of version 1 are keyed by the hash of the old token, which no new token can name:
    // delete them (old sessions end, users sign in again), then add the secret hash.
    2: `DO $sessionkit$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('${qualified}') AND attname = 'secret_hash' AND NOT attisdropped) THEN
    DELETE FROM ${qualified};
    ALTER TABLE ${qualified} ADD COLUMN secret_hash text NOT NULL;
  END IF;
END $sessionkit$;`,
  };

  return {
    qualified,
    /** The names a driver message may keep (see `scrubMessage`). */
    names: [schema, table, `${table}_pkey`, `${table}_user_id_idx`, `${table}_expires_at_idx`],
    ddl,
    /**
     * One simple-protocol script: PostgreSQL runs it as one implicit transaction, and the
     * transaction-level advisory lock makes servers that migrate at the same time take turns.
     */
    migrateCreate: `SELECT pg_advisory_xact_lock(${migrateLock});\n${ddl}`,
    /** The same, for a table at version `from`: the steps after it, then the new version comment. */
    migrateUpgrade: (from: number) => {
      const todo = Object.entries(steps)
        .filter(([to]) => Number(to) > from)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([, sql]) => sql);
      return [`SELECT pg_advisory_xact_lock(${migrateLock});`, ...todo, comment].join("\n");
    },
    /** Where the table stands: whether it exists, its version comment and its columns. */
    schemaState: `SELECT to_regclass($1) IS NOT NULL AS present, obj_description(to_regclass($1), 'pg_class') AS comment,
ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped) AS columns`,
    get: `SELECT ${INFO_COLUMNS}, secret_hash, data FROM ${qualified} WHERE id = $1 AND ${live("$2")}`,
    create: `INSERT INTO ${qualified} (id, secret_hash, user_id, data, version, created_at, last_active_at, expires_at, ip, user_agent, meta)
VALUES ($1, $2, $3, $4, $5, ${ts("$6")}, ${ts("$7")}, ${ts("$8")}, $9, $10, $11) ON CONFLICT (id) DO NOTHING`,
    /** Compare-and-set on version; login and rotation are this update with a new secret hash. */
    update: `UPDATE ${qualified} SET secret_hash = $2, user_id = $3, data = $4, version = $5, created_at = ${ts("$6")},
last_active_at = ${ts("$7")}, expires_at = ${ts("$8")}, ip = $9, user_agent = $10, meta = $11 WHERE id = $1 AND version = $12`,
    /**
     * The same compare-and-set, telling the near-caches of every process in its own statement
     * (`$13`: the LISTEN channel, `$14`: the message): the notification is sent when the update commits, and only
     * if it updated a row. Returns one row per row updated, so rowCount means the same.
     */
    updateNotify: `WITH updated AS (UPDATE ${qualified} SET secret_hash = $2, user_id = $3, data = $4, version = $5,
created_at = ${ts("$6")}, last_active_at = ${ts("$7")}, expires_at = ${ts("$8")}, ip = $9, user_agent = $10, meta = $11
WHERE id = $1 AND version = $12 RETURNING id) SELECT pg_notify($13, $14) FROM updated`,
    /** Only while the secret is the one the caller holds: a rotated row is not refreshed for the old token. */
    touch: `UPDATE ${qualified} SET last_active_at = ${ts("$3")}, expires_at = ${ts("$4")} WHERE id = $1 AND secret_hash = $2`,
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
