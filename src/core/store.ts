/**
 * The contract every backend implements. Stores move opaque bytes plus a few indexed
 * fields; they know nothing of HTTP, crypto, serializers or timeout policy. The engine
 * (`createSessions`) owns all policy: it computes `expiresAt`, encrypts `data`, and decides
 * when to write.
 *
 * Times are integer milliseconds since the epoch. Every store must round-trip them exactly
 * (millisecond precision is the contract).
 */

/** One stored session, as the store sees it. */
export interface StoredSession {
  /** SHA-256 of the token, lowercase hex (64 chars). Primary key. */
  id: string;
  /** Owner of the session, indexed for listing and revoking. */
  userId: string | null;
  /** Encrypted, serialized session data. Opaque to the store. */
  data: Uint8Array;
  /** Bumped by the engine on every data write; the compare-and-set key. */
  version: number;
  createdAt: number;
  lastActiveAt: number;
  /** When the session stops being valid; `null` = never (no timeouts configured). */
  expiresAt: number | null;
  ip: string | null;
  userAgent: string | null;
  /** App-defined JSON text for device information, or null. */
  meta: string | null;
}

/** A session as listed: everything but the data. */
export type StoredSessionInfo = Omit<StoredSession, "data">;

/** What `stats()` reports (the CLI's `stats` command). */
export interface StoreStats {
  /** Rows in the store, expired or not. */
  total: number;
  /** Rows not expired at `now`. */
  active: number;
  /** Rows expired at `now` that pruning has not deleted yet. */
  expired: number;
  /** The users with the most active sessions, most first, at most `topUsers`. */
  topUsers: Array<{ userId: string; count: number }>;
}

/**
 * A session backend.
 *
 * Rules every implementation follows (the conformance suite in `test/conformance/` checks
 * each one):
 * - A row whose `expiresAt` is at or before `now` is never returned by `get` or `listByUser`.
 * - `update`, `rotate` and `touch` never bring back a row that is gone: they report `false`.
 * - Failures throw (the engine wraps them in `SessionStoreError`); "not found" is not a failure.
 */
export interface SessionStore {
  /** Short name for messages, e.g. "sqlite". */
  readonly name: string;

  /** Reads one live session. */
  get(id: string, now: number): Promise<StoredSession | null>;

  /** Inserts a new session. Returns false (and writes nothing) if the id already exists. */
  create(session: StoredSession): Promise<boolean>;

  /**
   * Compare-and-set: replaces every field of the row `session.id` if its stored version is
   * `expectedVersion`. Returns false if the row is gone or its version differs.
   */
  update(session: StoredSession, expectedVersion: number): Promise<boolean>;

  /**
   * Compare-and-set rename: deletes `oldId` if its version is `expectedVersion`, and inserts
   * `session` (with its new id). Returns false, and changes nothing, if `oldId` is gone or its
   * version differs. Where the two ids cannot be changed atomically (Redis Cluster), the old
   * row is deleted first: a crash in between signs the user out, it never leaves both alive.
   */
  rotate(oldId: string, expectedVersion: number, session: StoredSession): Promise<boolean>;

  /** Writes timestamps only (never data or version). Returns false if the row is gone. */
  touch(id: string, lastActiveAt: number, expiresAt: number | null): Promise<boolean>;

  /** Deletes one session. Returns whether a row was deleted. */
  delete(id: string): Promise<boolean>;

  /** The live sessions of a user, without data, in no particular order. */
  listByUser(userId: string, now: number): Promise<StoredSessionInfo[]>;

  /** Deletes every session of a user except the ids in `except`; returns the deleted ids. */
  deleteByUser(userId: string, except?: readonly string[]): Promise<string[]>;

  /**
   * Deletes at most `limit` sessions expired at `now`; returns how many it deleted. The
   * engine calls it repeatedly until it returns less than `limit`, so no call holds a long lock.
   */
  pruneExpired(now: number, limit: number): Promise<number>;

  /** Counts for monitoring and the CLI's `stats`. */
  stats(now: number, topUsers: number): Promise<StoreStats>;

  /** Releases what the store opened itself (never a client the app passed in). */
  close(): Promise<void>;

  /** Creates or upgrades the schema; idempotent. SQL stores only. */
  migrate?(): Promise<void>;

  /** The DDL `migrate()` runs, for users who run their own migration tool. SQL stores only. */
  schemaSql?(): string;
}
