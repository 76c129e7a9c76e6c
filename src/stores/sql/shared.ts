/**
 * What the PostgreSQL and MySQL stores share: identifier checks, the schema version, error
 * shaping and row mapping. Each dialect keeps its SQL in its own `sql.ts`.
 */
import { SessionConfigError, SessionError } from "../../contract/errors.js";
import type { MigrateResult, StoredSession, StoredSessionInfo, StoreStats } from "../../contract/store.js";

/**
 * The schema version `migrate()` writes; bump it with every change to the DDL.
 * 1: the first table. 2: `secret_hash` added, `id` became the stable 32-hex row id; the rows of
 * version 1 are keyed by the hash of the old token, which no new token can name, so the step
 * deletes them (old sessions end; users sign in again).
 */
export const SCHEMA_VERSION = 2;

/** What `migrate()` reports, from the version found before (0 = no table) to the latest. */
export function migrateResult(from: number): MigrateResult {
  const action = from === 0 ? "created" : from < SCHEMA_VERSION ? "upgraded" : "current";
  return { action, from, to: SCHEMA_VERSION };
}

/** The columns of each schema version (the checks on a table that carries no version comment). */
export const COLUMNS_V1 = [
  "id",
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
export const COLUMNS_V2 = [...COLUMNS_V1, "secret_hash"] as const;

/**
 * The version of an existing table that has no version comment (made by hand from an older
 * DDL, or the comment was lost): judged by its columns. Throws when the table is not ours, so
 * `migrate()` never deletes rows from someone else's table.
 */
export function versionFromColumns(table: string, columns: readonly string[]): number {
  const has = new Set(columns.map((c) => c.toLowerCase()));
  if (COLUMNS_V2.every((c) => has.has(c))) return 2;
  if (COLUMNS_V1.every((c) => has.has(c))) return 1;
  const missing = COLUMNS_V1.filter((c) => !has.has(c));
  throw new Error(
    `table ${table} exists but was not created by sessionkit (no column ${missing.join(", ")}); nothing was changed. Give sessionkit its own table ({ table: "app_sessions" }, or ?table=app_sessions in a CLI store URL)`,
  );
}

/** The marker `migrate()` leaves in the table comment, e.g. `sessionkit schema 1`. */
export const schemaComment = (version = SCHEMA_VERSION) => `sessionkit schema ${version}`;

/** Reads the version out of a table comment; null when the comment is not ours. */
export function versionFromComment(comment: unknown): number | null {
  if (typeof comment !== "string") return null;
  const match = /^sessionkit schema (\d+)$/.exec(comment.trim());
  return match ? Number(match[1]) : null;
}

// Strict on purpose: names end up inside SQL text (quoted), so only plain identifiers pass.
// 48 characters leaves room for the `_user_id_idx` style suffixes under the 63/64-char limits.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;

/** Checks a table or schema name the caller gave; throws `SessionConfigError` when unusable. */
export function checkIdentifier(store: string, what: string, value: unknown): string {
  if (typeof value !== "string" || !IDENTIFIER.test(value)) {
    throw new SessionConfigError(
      `[sessionkit] [${store}] ${what} must be a plain identifier (letters, digits and _, not starting with a digit, at most 48 characters), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Checks a positive integer option such as `queryTimeout`. */
export function checkPositiveInteger(store: string, what: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new SessionConfigError(
      `[sessionkit] [${store}] ${what} must be a positive integer (milliseconds), got ${String(value)}`,
    );
  }
  return value;
}

/** The error to throw when the optional driver package is not installed. */
export function missingDriver(store: string, pkg: string, cause: unknown): SessionConfigError {
  return new SessionConfigError(
    `[sessionkit] [${store}] the "${pkg}" package is not installed: run \`npm install ${pkg}\`, or pass your own pool with { pool }`,
    { cause },
  );
}

/** The hint attached to "table does not exist" errors: SQL server stores never create tables on their own. */
export const missingTableMessage = (table: string) =>
  `table ${table} does not exist; run store.migrate() (or \`sessionkit migrate --store <url>\`) once before use`;

/** How a dialect recognises the errors `guard` treats specially. */
export interface ErrorKinds {
  /** "No such table": answered with a message that says to migrate. */
  isMissingTable(error: unknown): boolean;
  /**
   * The server chose this statement or transaction as a deadlock victim and rolled it back
   * whole, so running the operation again is safe.
   */
  isDeadlock(error: unknown): boolean;
  /**
   * The error came from connecting or signing in (refused, unknown user, no such database),
   * before any statement ran: its text names the host or the user, never a bound value, so it
   * is kept as it is.
   */
  isConnection(error: unknown): boolean;
}

/**
 * What a SQL store throws when the driver fails: the driver's error codes and a message with
 * no bound value in it. The driver's own error is dropped on purpose (no `cause`): mysql2 keeps
 * the whole statement with its values inlined in `sql`, pg keeps them in `detail` ("Failing
 * row contains (...)") and `where`, and a server message quotes the value it refused
 * ("Duplicate entry '...'"), so user ids, IPs and user agents would reach logs through
 * `SessionStoreError.cause`. The engine wraps this error once in `SessionStoreError`.
 */
export class SqlStoreError extends Error {
  /** The driver's code: a SQLSTATE on PostgreSQL (`"42P01"`), `"ER_..."` on MySQL, or a Node code (`"ECONNREFUSED"`). */
  readonly code?: string;
  /** MySQL's error number, e.g. 1146. */
  readonly errno?: number;
  /** MySQL's SQLSTATE. */
  readonly sqlState?: string;

  constructor(message: string, from: unknown) {
    super(message);
    this.name = "SqlStoreError";
    const { code, errno, sqlState } = (from ?? {}) as { code?: unknown; errno?: unknown; sqlState?: unknown };
    if (typeof code === "string") this.code = code;
    if (typeof errno === "number") this.errno = errno;
    if (typeof sqlState === "string") this.sqlState = sqlState;
  }
}

/** A quoted literal in a server message: '...', "..." or `...` (doubled quotes inside kept). */
const QUOTED = /'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`/g;

/**
 * The driver's message without anything a statement was given: every quoted literal that is
 * not one of the store's own names (table, columns, indexes) becomes '…'. Names are what make
 * a message useful ("Data too long for column 'user_agent'"); values never are.
 */
export function scrubMessage(message: string, names: ReadonlySet<string>): string {
  return message.replace(QUOTED, (literal) => {
    const inner = literal.slice(1, -1);
    // `test`.`sessions`.`user_agent` style names are checked part by part.
    const parts = inner.split(/[`.]+/).filter(Boolean);
    return parts.length > 0 && parts.every((p) => names.has(p)) ? literal : `${literal[0]}…${literal[0]}`;
  });
}

/**
 * A readable reason for a driver error. Node's connect errors for a host with several
 * addresses are `AggregateError`s with an empty message, which would say nothing.
 */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return typeof error === "string" ? error : "unknown error";
  if (error.message) return error.message;
  const parts =
    error instanceof AggregateError ? error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))) : [];
  const code = (error as { code?: unknown }).code;
  return parts.filter(Boolean).join("; ") || (typeof code === "string" ? code : error.name);
}

const DEADLOCK_ATTEMPTS = 3;

/**
 * Runs one store operation. A failure leaves as a `SqlStoreError` (see there: no bound value
 * in it anywhere); sessionkit's own errors pass through. A deadlock victim is retried a couple
 * of times first: with many servers, a revoke-user and a request of that user can lock the same
 * rows in opposite order. `names` are the identifiers a message may keep (see `scrubMessage`).
 */
export function guard(table: string, kinds: ErrorKinds, names: Iterable<string>) {
  const keep = new Set([...names, ...COLUMNS_V2, "PRIMARY"]);
  return async <T>(run: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (error instanceof SessionError || error instanceof SqlStoreError) throw error;
        if (attempt < DEADLOCK_ATTEMPTS && kinds.isDeadlock(error)) continue;
        if (kinds.isMissingTable(error)) throw new SqlStoreError(missingTableMessage(table), error);
        const reason = reasonOf(error);
        throw new SqlStoreError(kinds.isConnection(error) ? reason : scrubMessage(reason, keep), error);
      }
    }
  };
}

/** A number column that a driver may hand back as number, string or bigint. */
export const num = (value: unknown): number => Number(value);

/** A nullable number column. */
export const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/** A nullable text column. */
export const textOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

/** Driver bytes (a Buffer) as a plain Uint8Array view over the same memory. */
export function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "string") return new Uint8Array(Buffer.from(value, "binary"));
  throw new TypeError(`expected binary data, got ${typeof value}`);
}

/** Store data as a Buffer for the driver, without copying. */
export const bufferOf = (data: Uint8Array): Buffer => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/**
 * The column aliases every dialect's SELECT uses, so one mapper reads both. Times are
 * selected as integer milliseconds (`created_ms`...), never as driver dates.
 */
export function infoFromRow(row: Record<string, unknown>): StoredSessionInfo {
  // String() also reads MySQL's VARBINARY id, which mysql2 hands back as a Buffer of ASCII hex.
  return {
    id: String(row.id),
    userId: textOrNull(row.user_id),
    version: num(row.version),
    createdAt: num(row.created_ms),
    lastActiveAt: num(row.last_active_ms),
    expiresAt: numOrNull(row.expires_ms),
    ip: textOrNull(row.ip),
    userAgent: textOrNull(row.user_agent),
    meta: textOrNull(row.meta),
  };
}

/** `infoFromRow` plus the secret hash and data columns. */
export function sessionFromRow(row: Record<string, unknown>): StoredSession {
  const { id, ...info } = infoFromRow(row);
  return { id, secretHash: String(row.secret_hash), data: bytesOf(row.data), ...info };
}

/** Builds `StoreStats` from counts and `{ user_id, n }` rows, ordered most first then by user id. */
export function statsFrom(total: unknown, active: unknown, top: Array<Record<string, unknown>>, limit: number): StoreStats {
  const t = num(total);
  const a = num(active);
  const topUsers = top
    .map((r) => ({ userId: String(r.user_id), count: num(r.n) }))
    .sort((x, y) => y.count - x.count || (x.userId < y.userId ? -1 : x.userId > y.userId ? 1 : 0))
    .slice(0, limit);
  return { total: t, active: a, expired: t - a, topUsers };
}

/** Checks `limit`/`topUsers` style arguments before they reach SQL. */
export function checkCount(store: string, what: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`[sessionkit] [${store}] ${what} must be a non-negative integer, got ${value}`);
  }
  return value;
}
