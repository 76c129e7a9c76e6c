import { createHash } from "node:crypto";
import { type MigrateResult, type SessionStore, type StoredSession, updateMessage } from "../contract/store.js";
import { echoWait } from "./echo-wait.js";
import { channelNameOf, type ListenClient, listenClientOf, postgresChannel } from "./postgres/channel.js";
import { postgresSql } from "./postgres/sql.js";
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

/** One query as the store sends it (pg's `QueryConfig`, the fields this store uses). */
export type { ListenClient } from "./postgres/channel.js";

export interface PostgresQuery {
  text: string;
  values?: unknown[];
  /** pg's client-side timeout for this query, in ms. */
  query_timeout?: number;
  /** Named prepared statement (pg parses it once per connection). */
  name?: string;
}

/** The subset of a pg query result the store reads. */
export interface PostgresQueryResult {
  rows: Array<Record<string, unknown>>;
  rowCount: number | null;
}

/**
 * The subset of `pg.Pool` the store needs, so `pg` stays an optional peer dependency and
 * any compatible pool works. Each store operation is one `query()` call: one round trip.
 */
export interface PostgresPool {
  query(config: PostgresQuery): Promise<PostgresQueryResult>;
  end(): Promise<void>;
}

/** Options for {@link postgresStore}. Give `pool` or `connectionString`. */
export interface PostgresStoreOptions {
  /** Your app's `pg.Pool`. The store never ends it: `close()` leaves it to you. */
  pool?: PostgresPool;
  /**
   * A `postgres://` URL; the store then creates its own `pg.Pool` on first use (importing
   * `pg` lazily) and ends it in `close()`.
   */
  connectionString?: string;
  /** Extra `pg.Pool` options for the pool the store creates (ignored with `pool`). */
  poolOptions?: Record<string, unknown>;
  /**
   * Table name (a plain identifier).
   * @default "sessions"
   */
  table?: string;
  /**
   * Schema that holds the table; `migrate()` creates it when missing.
   * @default "public"
   */
  schema?: string;
  /** Fail a query that takes longer than this many ms (pg's `query_timeout`). Default: no limit. */
  queryTimeout?: number;
  /**
   * Run the per-request statements as named prepared statements, so PostgreSQL parses and
   * plans them once per connection. Turn off behind a pooler that cannot track them (PgBouncer
   * in transaction mode before 1.21).
   * @default true
   */
  preparedStatements?: boolean;
  /**
   * Makes the near-cache's LISTEN connection: a new, unconnected `pg.Client` (one per cache,
   * held open). Default: a `pg.Client` with the pool's own settings. Give one when the pool
   * goes through a pooler that cannot LISTEN (PgBouncer in transaction mode): connect it to
   * PostgreSQL directly.
   */
  listenClient?: () => ListenClient | Promise<ListenClient>;
}

/** A PostgreSQL store: a `SessionStore` whose `migrate()` and `schemaSql()` always exist. */
export interface PostgresStore extends SessionStore {
  /**
   * Creates the schema, table and indexes if missing, or upgrades a table of an older schema
   * version; idempotent, safe from many servers at once. Reports what it did.
   */
  migrate(): Promise<MigrateResult>;
  /** The DDL of the latest schema from nothing, for your own migration tool. */
  schemaSql(): string;
}

interface PgModule {
  Pool: new (config: Record<string, unknown>) => PostgresPool & { on(event: "error", listener: (error: Error) => void): unknown };
}

/** The pool the store creates from a URL: fail fast on an unreachable server rather than hang. */
const DEFAULT_POOL_OPTIONS = { connectionTimeoutMillis: 10_000, max: 10 };

async function createPool(connectionString: string, poolOptions: Record<string, unknown>): Promise<PostgresPool> {
  let mod: PgModule;
  try {
    const imported = (await import("pg")) as unknown as PgModule & { default?: PgModule };
    mod = imported.default ?? imported;
  } catch (error) {
    throw missingDriver("postgres", "pg", error);
  }
  const pool = new mod.Pool({ ...DEFAULT_POOL_OPTIONS, ...poolOptions, connectionString });
  // An idle client that loses its connection makes the pool emit "error"; without a listener
  // that would crash the app. The next query reports the outage instead, and reconnects.
  pool.on("error", () => {});
  return pool;
}

/** Longest rest after one prune batch. */
const PRUNE_REST_CAP_MS = 50;

const sqlState = (error: unknown) => (error as { code?: unknown } | null)?.code;
const errorKinds = {
  isMissingTable: (error: unknown) => sqlState(error) === "42P01", // undefined_table
  isDeadlock: (error: unknown) => sqlState(error) === "40P01", // deadlock_detected
  // No SQLSTATE (a Node socket error, pg's own timeouts), or class 08 connection exception,
  // 28 invalid authorization, 3D invalid catalog name, 57P operator intervention.
  isConnection: (error: unknown) => {
    const code = sqlState(error);
    return typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code) || /^(08|28|3D|57P)/.test(code);
  },
};

/**
 * A PostgreSQL store on node-postgres (`pg`), for many app servers sharing one database.
 * Every operation is a single statement (compare-and-set updates, `DELETE ... RETURNING`),
 * data is `bytea`, times are `timestamptz`, and pruning deletes in bounded
 * batches under an advisory lock so only one server prunes at a time.
 *
 * The store does not create its table by itself: run `migrate()` once (at deploy time, or
 * `sessionkit migrate --store postgres://...`), or apply `schemaSql()` with your own tool.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { createSessions } from "sessionkit";
 * import { postgresStore } from "sessionkit/postgres";
 *
 * const store = postgresStore({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
 * await store.migrate();
 * const sessions = createSessions({ store, secrets: [process.env.SESSION_SECRET!] });
 * ```
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const name = "postgres";
  const table = checkIdentifier(name, "table", options.table ?? "sessions");
  const schema = checkIdentifier(name, "schema", options.schema ?? "public");
  const queryTimeout = checkPositiveInteger(name, "queryTimeout", options.queryTimeout);
  const { pool: appPool, connectionString } = options;
  if (!appPool === !connectionString) {
    throw new TypeError("[sessionkit] [postgres] pass exactly one of { pool } (your pg.Pool) or { connectionString }");
  }
  if (appPool && typeof appPool.query !== "function") {
    throw new TypeError("[sessionkit] [postgres] { pool } must be a pg.Pool (or anything with query() and end())");
  }
  const poolOptions = { ...options.poolOptions };
  const sql = postgresSql(schema, table);
  const channelName = channelNameOf(sql.qualified);
  // Shared by the channel's publish and the notifying update: both wait for their own echo.
  const echo = echoWait();
  const run = guard(sql.qualified, errorKinds, sql.names);

  // Created once, on first use; a failed creation (missing driver) is retried next time.
  let ownPool: Promise<PostgresPool> | null = null;
  let closed = false;
  const pool = (): Promise<PostgresPool> => {
    if (appPool) return Promise.resolve(appPool);
    if (closed) return Promise.reject(new Error("the store is closed"));
    ownPool ??= createPool(connectionString as string, poolOptions).catch((error: unknown) => {
      ownPool = null;
      throw error;
    });
    return ownPool;
  };
  const prepared = options.preparedStatements ?? true;
  // Statement names, derived from the text (which names the table) so they never clash; hashed
  // once per statement, not per query.
  const statementNames = new Map<string, string>();
  const statementName = (text: string) => {
    let named = statementNames.get(text);
    if (named === undefined) {
      named = `sessionkit_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
      statementNames.set(text, named);
    }
    return named;
  };
  const query = async (text: string, values: unknown[] = [], hot = false) => {
    const config: PostgresQuery = { text, values };
    if (hot && prepared) config.name = statementName(text);
    if (queryTimeout !== undefined) config.query_timeout = queryTimeout;
    return (await pool()).query(config);
  };

  const rowValues = (s: StoredSession) => [
    s.id,
    s.secretHash,
    s.userId,
    bufferOf(s.data),
    s.version,
    s.createdAt,
    s.lastActiveAt,
    s.expiresAt,
    s.ip,
    s.userAgent,
    s.meta,
  ];

  /** The version the table is at: 0 when missing, by its comment, else judged by its columns. */
  async function schemaVersion(): Promise<number> {
    const { rows } = await query(sql.schemaState, [sql.qualified]);
    const state = rows[0] ?? {};
    if (state.present !== true) return 0;
    const found = versionFromComment(state.comment);
    if (found !== null && found > SCHEMA_VERSION) {
      throw new SqlStoreError(
        `table ${sql.qualified} has sessionkit schema ${found}, newer than this version of sessionkit knows (${SCHEMA_VERSION}); upgrade sessionkit`,
        undefined,
      );
    }
    if (found !== null) return found;
    try {
      return versionFromColumns(sql.qualified, (state.columns ?? []) as string[]);
    } catch (error) {
      throw new SqlStoreError((error as Error).message, undefined);
    }
  }

  return {
    name,
    get: (id, now) =>
      run(async () => {
        const { rows } = await query(sql.get, [id, now], true);
        return rows[0] ? sessionFromRow(rows[0]) : null;
      }),
    create: (session) => run(async () => (await query(sql.create, rowValues(session), true)).rowCount === 1),
    update: (session, expectedVersion, options) =>
      run(async () => {
        if (!options?.publish) return (await query(sql.update, [...rowValues(session), expectedVersion], true)).rowCount === 1;
        let applied = false;
        // Like a publish: resolves once this process's own LISTEN got the notification back.
        const message = updateMessage(session.id, session.version).join(",");
        await echo.publish(message, async () => {
          const values = [...rowValues(session), expectedVersion, channelName, message];
          applied = (await query(sql.updateNotify, values, true)).rowCount === 1;
          return applied;
        });
        return applied;
      }),
    touch: (id, secretHash, lastActiveAt, expiresAt) =>
      run(async () => (await query(sql.touch, [id, secretHash, lastActiveAt, expiresAt], true)).rowCount === 1),
    delete: (id) => run(async () => (await query(sql.delete, [id], true)).rowCount === 1),
    listByUser: (userId, now) => run(async () => (await query(sql.listByUser, [userId, now])).rows.map(infoFromRow)),
    deleteByUser: (userId, except = []) =>
      run(async () => (await query(sql.deleteByUser, [userId, [...except]])).rows.map((r) => String(r.id))),
    pruneExpired: (now, limit) =>
      run(async () => {
        const started = performance.now();
        const pruned = (await query(sql.pruneExpired, [now, checkCount(name, "limit", limit)])).rowCount ?? 0;
        // Background work paces itself: after a batch, rest as long as it took, so a prune of
        // a large backlog takes at most half of the database's time and the app's reads stay
        // fast meanwhile (measured in test/reliability/prune-scale.test.ts).
        if (pruned > 0)
          await new Promise((resolve) => setTimeout(resolve, Math.min(PRUNE_REST_CAP_MS, performance.now() - started)));
        return pruned;
      }),
    stats: (now, topUsers) =>
      run(async () => {
        const { rows } = await query(sql.stats, [now, checkCount(name, "topUsers", topUsers)]);
        const row = rows[0] ?? {};
        const top = typeof row.top === "string" ? JSON.parse(row.top) : row.top;
        return statsFrom(row.total, row.active, (top ?? []) as Array<Record<string, unknown>>, topUsers);
      }),
    migrate: () =>
      run(async () => {
        // Read first, so a current table costs one query and takes no lock. The scripts check
        // again under the lock: with several servers migrating at once, each reports what it
        // found, and only one of them changes anything.
        const from = await schemaVersion();
        if (from < SCHEMA_VERSION) {
          // No parameters: pg sends it with the simple protocol, as one implicit transaction.
          await (await pool()).query({ text: from === 0 ? sql.migrateCreate : sql.migrateUpgrade(from) });
        }
        return migrateResult(from);
      }),
    schemaSql: () => sql.ddl,
    // The near-cache's channel (createSessions({ cache })): LISTEN/NOTIFY, opened only when a cache subscribes.
    // Updates publish in their own statement (sql.updateNotify): no separate NOTIFY per write.
    invalidation: {
      ...postgresChannel({
        qualifiedTable: sql.qualified,
        notify: async (channel, payload) => {
          await query("SELECT pg_notify($1, $2)", [channel, payload]);
        },
        listenClient: async () => (options.listenClient ? options.listenClient() : listenClientOf(await pool())),
        echo,
      }),
      publishesOnUpdate: true,
    },
    async close() {
      if (closed) return;
      closed = true;
      const own = ownPool;
      ownPool = null;
      if (own) await (await own.catch(() => null))?.end();
    },
  };
}
