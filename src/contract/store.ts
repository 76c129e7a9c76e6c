/**
 * The contract every backend implements. Stores move opaque bytes plus a few indexed
 * fields; they know nothing of HTTP, crypto, serializers or timeout policy. The engine
 * (`createSessions`) owns all policy: it computes `expiresAt`, encrypts `data`, hashes the
 * secret, and decides when to write.
 *
 * Times are integer milliseconds since the epoch. Every store must round-trip them exactly
 * (millisecond precision is the contract).
 */

/** One stored session, as the store sees it. */
export interface StoredSession {
  /**
   * The row id: 16 random bytes as 32 lowercase hex characters, the first part of the token.
   * Primary key; it never changes for the life of the session (login and rotation replace
   * `secretHash` on the same row).
   */
  id: string;
  /** SHA-256 of the token's current secret, 64 lowercase hex characters. */
  secretHash: string;
  /** Owner of the session, indexed for listing and revoking. */
  userId: string | null;
  /** Encrypted, serialized session data. Opaque to the store. */
  data: Uint8Array;
  /** Bumped by the engine on every write of data, secret or user; the compare-and-set key. */
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

/** A session as listed: everything but the data and the secret hash. */
export type StoredSessionInfo = Omit<StoredSession, "data" | "secretHash">;

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
 * - `update` and `touch` never bring back a row that is gone: they report `false`.
 * - `delete` and `deleteByUser` win over any update in flight: once they return, no later
 *   `update` or `touch` of those ids succeeds.
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
   * Compare-and-set: replaces every field of the row `session.id` (data, secret hash, user,
   * times, device fields) if its stored version is `expectedVersion`. Returns false if the
   * row is gone or its version differs. Login and rotation are such an update.
   *
   * `options.publish` is only ever passed to a store whose {@link InvalidationChannel} says
   * `publishesOnUpdate`: the write itself then publishes {@link updateMessage}`(session.id,
   * session.version)` to every subscriber, in the same statement (or script), so a successful
   * update needs no separate `publish()`. Other stores never receive it and may ignore the
   * argument.
   */
  update(session: StoredSession, expectedVersion: number, options?: UpdateOptions): Promise<boolean>;

  /**
   * Writes the timestamps only (never data, version or anything else), if the row exists and
   * its secret hash is still `secretHash`. Returns false otherwise: the row is gone, or it was
   * rotated meanwhile (then the engine must not refresh the old token's cookie).
   */
  touch(id: string, secretHash: string, lastActiveAt: number, expiresAt: number | null): Promise<boolean>;

  /** Deletes one session. Returns whether a row was deleted. */
  delete(id: string): Promise<boolean>;

  /** The live sessions of a user, without data, in no particular order. */
  listByUser(userId: string, now: number): Promise<StoredSessionInfo[]>;

  /** Deletes every session of a user except the ids in `except`; returns the deleted ids. */
  deleteByUser(userId: string, except?: readonly string[]): Promise<string[]>;

  /**
   * Deletes some sessions expired at `now`, at most `limit`, and returns how many. The engine
   * calls it again (yielding to the event loop in between) until it returns 0, so a store may
   * return fewer than `limit` to keep each call short (SQLite stops a batch after a few ms).
   */
  pruneExpired(now: number, limit: number): Promise<number>;

  /** Counts for monitoring and the CLI's `stats`. */
  stats(now: number, topUsers: number): Promise<StoreStats>;

  /** Releases what the store opened itself (never a client the app passed in). */
  close(): Promise<void>;

  /** Creates or upgrades the schema; idempotent. SQL stores only. */
  migrate?(): Promise<MigrateResult | undefined>;

  /** The DDL `migrate()` runs, for users who run their own migration tool. SQL stores only. */
  schemaSql?(): string;

  /**
   * The store's invalidation channel, for the engine's near-cache (`createSessions({ cache })`):
   * how one process tells every other process that sessions changed. Optional: a store
   * without one works as before, and `createSessions` refuses the `cache` option on it. See
   * {@link InvalidationChannel}.
   */
  readonly invalidation?: InvalidationChannel;
}

/**
 * What an {@link InvalidationChannel} calls on each subscriber (one per `createSessions` with a
 * cache, in every process).
 */
export interface InvalidationListener {
  /** These session ids were written or deleted somewhere: forget what is cached for them. */
  invalidate(ids: readonly string[]): void;
  /** Forget everything (a prune, or a message the channel could not read). */
  invalidateAll(): void;
  /**
   * The subscription came up (`true`: from now on every publish anywhere reaches this
   * listener) or went down (`false`: messages may be lost until it is up again). The cache
   * empties itself on every change and is bypassed while down.
   */
  state(up: boolean): void;
}

/**
 * A publish/subscribe channel on the store's own server (Redis pub/sub, PostgreSQL
 * LISTEN/NOTIFY; in-process for the memory store), through which the engine's near-cache in
 * every process learns at once that a session was written, rotated, revoked, destroyed or
 * pruned.
 *
 * Rules an implementation follows:
 * - `publish()` resolves only once the server accepted the message for every current
 *   subscriber (Redis: the PUBLISH reply; PostgreSQL: the NOTIFY committed), and rejects
 *   when it could not send it.
 * - `subscribe()` calls `state(true)` only once messages flow, and `state(false)` as soon as
 *   the connection that carries them drops (then `state(true)` again after resubscribing).
 *   A subscriber never misses a message while it is up.
 * - Nothing here is a secret: messages carry row ids only.
 */
export interface InvalidationChannel {
  /** Starts delivering to `listener`; returns the function that stops it (and closes what it opened). */
  subscribe(listener: InvalidationListener): () => Promise<void>;
  /** Tells every subscriber in every process that these ids changed, or (`"all"`) that anything may have. */
  publish(ids: readonly string[] | "all"): Promise<void>;
  /**
   * True when `publish()` reaches every subscriber synchronously, before it returns (an
   * in-process channel). Otherwise a cache hit first waits one turn of the event loop, so
   * that a message already in this process's socket is applied before the entry is used.
   */
  readonly synchronous?: boolean;
  /**
   * True when `update(row, version, { publish: true })` publishes `updateMessage(row.id,
   * row.version)` as part of the write, with the guarantees of `publish()` (PostgreSQL:
   * `pg_notify` in the UPDATE's own statement, sent when it commits; Redis: PUBLISH in the
   * update's script). The engine then saves the separate publish round trip on every write; a
   * write that fails publishes nothing.
   */
  readonly publishesOnUpdate?: boolean;
  /**
   * For a channel that learns of changes by looking rather than by being told (SQLite's
   * `PRAGMA data_version`): the cache calls it, synchronously, before it trusts any entry, and
   * the channel invalidates from here what changed since the last call.
   */
  poll?(): void;
}

/**
 * The ids a write of `version` publishes: the id itself, and `<id>@<version>`, "the session is
 * now at this version". A cache drops its copies of older versions and keeps one of that version
 * or later, so the writer's own copy (write-through) survives its write's message, in whatever
 * order messages arrive. Caches of an older sessionkit, which know only ids, drop the id and
 * ignore the other one, so a rolling deploy stays correct.
 */
export const updateMessage = (id: string, version: number): readonly [string, string] => [id, `${id}@${version}`];

/** See {@link SessionStore.update}. */
export interface UpdateOptions {
  /** Publish the invalidation of this id as part of the write (see `InvalidationChannel.publishesOnUpdate`). */
  readonly publish?: boolean;
}

/** What `migrate()` did, for the CLI to report. */
export interface MigrateResult {
  /** "created" (no table before), "upgraded" (from `from` to `to`), or "current" (nothing to do). */
  action: "created" | "upgraded" | "current";
  from: number;
  to: number;
}
