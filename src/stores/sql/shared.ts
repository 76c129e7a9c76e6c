/**
 * What the PostgreSQL and MySQL stores share: identifier checks, the schema version, error
 * shaping and row mapping. Each dialect keeps its SQL in its own `sql.ts`.
 */
import { SessionConfigError, SessionError, SessionStoreError } from "../../contract/errors.js";
import type { StoredSession, StoredSessionInfo, StoreStats } from "../../contract/store.js";

/** The schema version `migrate()` writes; bump it with every change to the DDL. */
export const SCHEMA_VERSION = 1;

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

/**
 * A readable reason for a driver error. Node's connect errors for a host with several
 * addresses are `AggregateError`s with an empty message, which would say nothing.
 */
function withMessage(error: unknown): unknown {
  if (!(error instanceof Error) || error.message) return error;
  const parts =
    error instanceof AggregateError ? error.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))) : [];
  const code = (error as { code?: unknown }).code;
  const reason = parts.filter(Boolean).join("; ") || (typeof code === "string" ? code : error.name);
  return new Error(reason, { cause: error });
}

/** How a dialect recognises the errors `guard` treats specially. */
export interface ErrorKinds {
  /** "No such table": answered with a message that says to migrate. */
  isMissingTable(error: unknown): boolean;
  /**
   * The server chose this statement or transaction as a deadlock victim and rolled it back
   * whole, so running the operation again is safe.
   */
  isDeadlock(error: unknown): boolean;
}

const DEADLOCK_ATTEMPTS = 3;

/**
 * Runs one store operation; every failure leaves as a `SessionStoreError` that names the store
 * and the operation and keeps the cause (so direct callers such as the CLI get the same
 * errors as the engine). A deadlock victim is retried a couple of times first: with many
 * servers, a revoke-user and a request of that user can lock the same rows in opposite order.
 */
export function guard(store: string, table: string, kinds: ErrorKinds) {
  return async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        if (error instanceof SessionError) throw error;
        if (attempt < DEADLOCK_ATTEMPTS && kinds.isDeadlock(error)) continue;
        const cause = kinds.isMissingTable(error) ? new Error(missingTableMessage(table), { cause: error }) : withMessage(error);
        throw new SessionStoreError(store, operation, cause);
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

/** `infoFromRow` plus the data column. */
export function sessionFromRow(row: Record<string, unknown>): StoredSession {
  const { id, ...info } = infoFromRow(row);
  return { id, data: bytesOf(row.data), ...info };
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
