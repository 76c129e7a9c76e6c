import type { MigrateResult, SessionStore, StoredSession } from "../contract/store.js";
import { mysqlChannel } from "./mysql/channel.js";
import { datetime, mysqlSql } from "./mysql/sql.js";
import {
  bufferOf,
  checkCount,
  checkIdentifier,
  checkPositiveInteger,
  guard,
  infoFromRow,
  migrateResult,
  missingDriver,
  SCHEMA_VERSION,
  SqlStoreError,
  sessionFromRow,
  statsFrom,
  versionFromColumns,
  versionFromComment,
} from "./sql/shared.js";

/** One query as the store sends it (mysql2's `QueryOptions`, the fields this store uses). */
export interface MysqlQuery {
  sql: string;
  values?: unknown[];
  /** mysql2's per-query timeout in ms. */
  timeout?: number;
}

/** Anything that runs a query the mysql2/promise way: `[rows or result header, fields]`. */
export interface MysqlQueryable {
  query(options: MysqlQuery): Promise<[unknown, unknown]>;
}

/** A connection checked out of the pool (transactions and session-level locks need one). */
export interface MysqlPoolConnection extends MysqlQueryable {
  release(): void;
  destroy(): void;
}

/**
 * The subset of a `mysql2/promise` pool the store needs, so `mysql2` stays an optional peer
 * dependency: `query()`, `getConnection()` and `end()`.
 */
export interface MysqlPool extends MysqlQueryable {
  getConnection(): Promise<MysqlPoolConnection>;
  end(): Promise<void>;
}

/** Options for {@link mysqlStore}. Give `pool` or `uri`. */
export interface MysqlStoreOptions {
  /** Your app's `mysql2/promise` pool. The store never ends it: `close()` leaves it to you. */
  pool?: MysqlPool;
  /**
   * A `mysql://` URL; the store then creates its own pool on first use (importing
   * `mysql2/promise` lazily) and ends it in `close()`.
   */
  uri?: string;
  /** Extra `mysql2` pool options for the pool the store creates (ignored with `pool`). */
  poolOptions?: Record<string, unknown>;
  /**
   * Table name (a plain identifier), in the connection's database.
   * @default "sessions"
   */
  table?: string;
  /** Fail a query that takes longer than this many ms (mysql2's `timeout`). Default: no limit. */
  queryTimeout?: number;
}

/** A MySQL/MariaDB store: a `SessionStore` whose `migrate()` and `schemaSql()` always exist. */
export interface MysqlStore extends SessionStore {
  /**
   * Creates the table and indexes if missing, or upgrades a table of an older schema version;
   * idempotent, safe from many servers at once. Reports what it did.
   */
  migrate(): Promise<MigrateResult>;
  /** The DDL of the latest schema from nothing, for your own migration tool. */
  schemaSql(): string;
}

interface Mysql2Module {
  createPool(config: Record<string, unknown>): MysqlPool;
}

/** The pool the store creates from a URL: fail fast on an unreachable server rather than hang. */
const DEFAULT_POOL_OPTIONS = { connectTimeout: 10_000, connectionLimit: 10 };

async function createPool(uri: string, poolOptions: Record<string, unknown>): Promise<MysqlPool> {
  let mod: Mysql2Module;
  try {
    const imported = (await import("mysql2/promise")) as unknown as Mysql2Module & { default?: Mysql2Module };
    mod = imported.default ?? imported;
  } catch (error) {
    throw missingDriver("mysql", "mysql2", error);
  }
  return mod.createPool({ ...DEFAULT_POOL_OPTIONS, ...poolOptions, uri });
}

const errno = (error: unknown) => (error as { errno?: unknown } | null)?.errno;
const errorKinds = {
  isMissingTable: (error: unknown) => errno(error) === 1146, // ER_NO_SUCH_TABLE
  isDeadlock: (error: unknown) => errno(error) === 1213, // ER_LOCK_DEADLOCK: InnoDB rolled the transaction back
  // SQLSTATE class 08 (connection) or 28 (access denied: 1045, MariaDB's 1698), no access to or
  // no such database (1044, 1049), or no server errno at all (a Node socket error, mysql2's own
  // timeouts and "connection lost").
  isConnection: (error: unknown) => {
    const n = errno(error);
    const state = (error as { sqlState?: unknown } | null)?.sqlState;
    if (typeof state === "string" && /^(08|28)/.test(state)) return true;
    return typeof n !== "number" || n < 1000 || n === 1044 || n === 1049;
  },
};
const isDuplicate = (error: unknown) => errno(error) === 1062; // ER_DUP_ENTRY

interface ResultHeader {
  affectedRows?: number;
  info?: string;
}
type Row = Record<string, unknown>;

/**
 * Rows an UPDATE matched. `affectedRows` counts only rows whose values changed unless the
 * connection has the FOUND_ROWS flag (mysql2's default), so a pool configured otherwise would
 * make an identical touch look like a missing row; the server's info text says it either way.
 */
function matched(result: unknown): number {
  const header = result as ResultHeader;
  const fromInfo = /Rows matched:\s*(\d+)/i.exec(header.info ?? "");
  return fromInfo ? Number(fromInfo[1]) : (header.affectedRows ?? 0);
}
const affected = (result: unknown) => (result as ResultHeader).affectedRows ?? 0;

/**
 * A MySQL / MariaDB store on `mysql2`, for many app servers sharing one database. Data is
 * `LONGBLOB`, times are UTC `DATETIME(3)` (independent of server and connection time zones),
 * updates are compare-and-set on `version` (login and rotation included), and pruning deletes
 * bounded batches with `LIMIT` under `GET_LOCK` so only one server prunes at a time.
 *
 * The store does not create its table by itself: run `migrate()` once (at deploy time, or
 * `sessionkit migrate --store mysql://...`), or apply `schemaSql()` with your own tool.
 *
 * @example
 * ```ts
 * import mysql from "mysql2/promise";
 * import { createSessions } from "sessionkit";
 * import { mysqlStore } from "sessionkit/mysql";
 *
 * const store = mysqlStore({ pool: mysql.createPool(process.env.DATABASE_URL!) });
 * await store.migrate();
 * const sessions = createSessions({ store, secrets: [process.env.SESSION_SECRET!] });
 * ```
 */
export function mysqlStore(options: MysqlStoreOptions): MysqlStore {
  const name = "mysql";
  const table = checkIdentifier(name, "table", options.table ?? "sessions");
  const queryTimeout = checkPositiveInteger(name, "queryTimeout", options.queryTimeout);
  const { pool: appPool, uri } = options;
  if (!appPool === !uri) {
    throw new TypeError("[sessionkit] [mysql] pass exactly one of { pool } (your mysql2/promise pool) or { uri }");
  }
  if (appPool && (typeof appPool.query !== "function" || typeof appPool.getConnection !== "function")) {
    throw new TypeError("[sessionkit] [mysql] { pool } must be a mysql2/promise pool (with query() and getConnection())");
  }
  const poolOptions = { ...options.poolOptions };
  const sql = mysqlSql(table);
  const run = guard(sql.table, errorKinds, sql.names);

  // Created once, on first use; a failed creation (missing driver) is retried next time.
  let ownPool: Promise<MysqlPool> | null = null;
  let closed = false;
  const pool = (): Promise<MysqlPool> => {
    if (appPool) return Promise.resolve(appPool);
    if (closed) return Promise.reject(new Error("the store is closed"));
    ownPool ??= createPool(uri as string, poolOptions).catch((error: unknown) => {
      ownPool = null;
      throw error;
    });
    return ownPool;
  };
  const on = async (target: MysqlQueryable, text: string, values: unknown[] = []) =>
    (await target.query(queryTimeout === undefined ? { sql: text, values } : { sql: text, values, timeout: queryTimeout }))[0];
  const query = async (text: string, values: unknown[] = []) => on(await pool(), text, values);

  /**
   * Runs `fn` on one checked-out connection. After any failure the connection is destroyed
   * rather than returned: it may still hold a transaction or a named lock.
   */
  async function withConnection<T>(fn: (conn: MysqlPoolConnection) => Promise<T>): Promise<T> {
    const conn = await (await pool()).getConnection();
    let result: T;
    try {
      result = await fn(conn);
    } catch (error) {
      conn.destroy();
      throw error;
    }
    conn.release();
    return result;
  }

  const rowValues = (s: StoredSession) => [
    s.secretHash,
    s.userId,
    bufferOf(s.data),
    s.version,
    datetime(s.createdAt),
    datetime(s.lastActiveAt),
    datetime(s.expiresAt),
    s.ip,
    s.userAgent,
    s.meta,
  ];
  const insertValues = (s: StoredSession) => [s.id, ...rowValues(s)];
  const rowsOf = (result: unknown) => result as Row[];

  /** The version the table is at (0 when missing), read on `conn` while it holds the migration lock. */
  async function schemaVersion(conn: MysqlQueryable): Promise<number> {
    const [found] = rowsOf(await on(conn, sql.schemaVersion, [table]));
    if (!found) return 0;
    const version = versionFromComment(found.comment);
    if (version !== null && version > SCHEMA_VERSION) {
      throw new SqlStoreError(
        `table ${sql.table} has sessionkit schema ${version}, newer than this version of sessionkit knows (${SCHEMA_VERSION}); upgrade sessionkit`,
        undefined,
      );
    }
    if (version !== null) return version;
    const columns = rowsOf(await on(conn, sql.columns, [table])).map((r) => String(r.name));
    try {
      return versionFromColumns(sql.table, columns);
    } catch (error) {
      throw new SqlStoreError((error as Error).message, undefined);
    }
  }

  return {
    name,
    // The near-cache's channel (createSessions({ cache })): a polled change log, bounded staleness (see mysql/channel.ts).
    invalidation: mysqlChannel({ table, query: (text, values) => query(text, values) }),
    get: (id, now) =>
      run(async () => {
        const row = rowsOf(await query(sql.get, [id, datetime(now)]))[0];
        return row ? sessionFromRow(row) : null;
      }),
    create: (session) =>
      run(async () => {
        try {
          return affected(await query(sql.create, insertValues(session))) === 1;
        } catch (error) {
          if (isDuplicate(error)) return false;
          throw error;
        }
      }),
    update: (session, expectedVersion) =>
      run(async () => matched(await query(sql.update, [...rowValues(session), session.id, expectedVersion])) === 1),
    touch: (id, secretHash, lastActiveAt, expiresAt) =>
      run(async () => matched(await query(sql.touch, [datetime(lastActiveAt), datetime(expiresAt), id, secretHash])) === 1),
    delete: (id) => run(async () => affected(await query(sql.delete, [id])) === 1),
    listByUser: (userId, now) => run(async () => rowsOf(await query(sql.listByUser, [userId, datetime(now)])).map(infoFromRow)),
    deleteByUser: (userId, except = []) =>
      run(() =>
        withConnection(async (conn) => {
          await on(conn, "START TRANSACTION");
          const locked = rowsOf(await on(conn, sql.lockUserRows, [userId])).map((r) => String(r.id));
          const ids = locked.filter((id) => !except.includes(id));
          if (ids.length > 0) await on(conn, sql.deleteIds, [userId, ids]);
          await on(conn, "COMMIT");
          return ids;
        }),
      ),
    pruneExpired: (now, limit) =>
      run(() => {
        checkCount(name, "limit", limit);
        // GET_LOCK belongs to a connection, so lock, delete and unlock all run on one.
        return withConnection(async (conn) => {
          const [lock] = rowsOf(await on(conn, sql.pruneLock));
          if (Number(lock?.ok) !== 1) return 0;
          let deleted: number;
          try {
            deleted = affected(await on(conn, sql.pruneBatch, [datetime(now), limit]));
          } finally {
            await on(conn, sql.pruneUnlock);
          }
          return deleted;
        });
      }),
    stats: (now, topUsers) =>
      run(async () => {
        const at = datetime(now);
        const [counts, top] = await Promise.all([
          query(sql.counts, [at]),
          query(sql.topUsers, [at, checkCount(name, "topUsers", topUsers)]),
        ]);
        const row = rowsOf(counts)[0] ?? {};
        return statsFrom(row.total, row.active, rowsOf(top), topUsers);
      }),
    migrate: () =>
      run(() =>
        withConnection(async (conn) => {
          const [lock] = rowsOf(await on(conn, sql.migrateLock));
          if (Number(lock?.ok) !== 1) {
            throw new SqlStoreError("another server kept the migration lock for 30 s; try again", undefined);
          }
          try {
            // Read under the lock: a server that migrated meanwhile leaves nothing to do here.
            const from = await schemaVersion(conn);
            if (from === 0) await on(conn, sql.ddl);
            else for (const statement of sql.upgrade(from)) await on(conn, statement);
            return migrateResult(from);
          } finally {
            await on(conn, sql.migrateUnlock);
          }
        }),
      ),
    schemaSql: () => sql.ddl,
    async close() {
      if (closed) return;
      closed = true;
      const own = ownPool;
      ownPool = null;
      if (own) await (await own.catch(() => null))?.end();
    },
  };
}
