import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { type Duration, parseDuration } from "../contract/duration.js";
import { SessionConfigError, SessionConflictError, SessionError, SessionStoreError } from "../contract/errors.js";
import type { SessionStore, StoredSession } from "../contract/store.js";
import { isExpired } from "../core/expiry.js";
import type { Secret } from "../crypto/keyring.js";
import { digestsEqual } from "../crypto/token.js";
import {
  cookieLifetime,
  createRecordCodec,
  type ExpressSessionRecord,
  recordExpiry,
  rowIdOf,
  secretHashOf,
} from "./express-session-record.js";

export type { ExpressSessionRecord } from "./express-session-record.js";

type Callback<T = void> = (error: unknown, result?: T) => void;

/**
 * The Store methods express-session calls (its documented store interface). Each returns a
 * promise and also takes a callback, like connect-redis 9: without a callback the promise
 * rejects on failure; with one, the outcome goes to the callback (called outside the promise
 * chain, so an exception it throws is not turned into an unhandled rejection) and the promise
 * never rejects.
 */
export interface ExpressSessionStoreMethods {
  /** `S` is your express-session `SessionData`; the store returns what was set, or null. */
  get<S extends ExpressSessionRecord = ExpressSessionRecord>(sid: string, callback?: Callback<S | null>): Promise<S | null>;
  set(sid: string, session: ExpressSessionRecord, callback?: Callback): Promise<void>;
  destroy(sid: string, callback?: Callback): Promise<void>;
  /** Slides the expiry; writes the timestamps only, never the session. */
  touch(sid: string, session: ExpressSessionRecord, callback?: Callback): Promise<void>;
  /** Every live session of this bridge's namespace, in one store query. */
  all<S extends ExpressSessionRecord = ExpressSessionRecord>(callback?: Callback<S[]>): Promise<S[]>;
  length(callback?: Callback<number>): Promise<number>;
  clear(callback?: Callback): Promise<void>;
}

/**
 * An express-session `Store` (it is an instance of express-session's own `Store` class).
 * The members it inherits from there are typed loosely so that this package needs neither
 * express-session nor its types unless you use this entry.
 */
export type ExpressSessionStore = EventEmitter &
  ExpressSessionStoreMethods & {
    regenerate(req: never, callback: (error?: unknown) => void): void;
    load(sid: string, callback: (error: unknown, session?: never) => void): void;
    createSession(req: never, session: never): never;
  };

/** Options of {@link expressSessionStore}. */
export interface ExpressSessionStoreOptions {
  /**
   * Stored as the `userId` of every row this bridge writes, so `all`, `length` and `clear`
   * see only express-session's sessions even when the store is shared with `createSessions`.
   * @default "express-session"
   */
  namespace?: string;
  /** Lifetime of a session whose cookie has no expiry (a browser-session cookie). @default "1d" */
  ttl?: Duration;
  /**
   * Longest life of a session from its creation, however active (express-session has no such
   * limit: its cookie's expiry slides on every touch). `null` = none. @default null
   */
  absoluteTimeout?: Duration | null;
  /** express-session's module, when it cannot be resolved from sessionkit's location (bundlers). */
  expressSession?: { Store: new () => EventEmitter };
  /** Current time in ms; inject one in tests. @default Date.now */
  clock?: () => number;
  /**
   * Encrypt sessions at rest with the engine's own sealing (AES-256-GCM under a key derived
   * from the first secret, bound to the row), as `createSessions` does; the other secrets still
   * decrypt (rotation). Without it the bridge stores express-session's JSON as is. Secrets need
   * 32+ bytes.
   * @default none (not encrypted)
   */
  secrets?: readonly Secret[];
}

const MAX_ATTEMPTS = 5;

/** Hands an outcome to the callback outside the promise chain; without a callback, the promise carries it. */
function respond<T>(work: Promise<T>, callback: Callback<T> | undefined): Promise<T> {
  if (!callback) return work;
  return work.then(
    (value) => {
      setImmediate(callback, null, value);
      return value;
    },
    (error: unknown) => {
      setImmediate(callback, error);
      return undefined as T;
    },
  );
}

function loadStoreClass(options: ExpressSessionStoreOptions): new () => EventEmitter {
  if (options.expressSession) return options.expressSession.Store;
  try {
    // express-session is an optional peer: resolved only when this bridge is used.
    const requireHere = createRequire(typeof __filename === "string" ? __filename : import.meta.url);
    return (requireHere("express-session") as { Store: new () => EventEmitter }).Store;
  } catch (error) {
    throw new SessionConfigError(
      "[sessionkit] [express-session] expressSessionStore() needs the express-session package: npm install express-session, or pass { expressSession: require('express-session') }",
      { cause: error },
    );
  }
}

/**
 * Turns any sessionkit store into an express-session `Store`, so an app on express-session
 * moves its sessions into SQLite, PostgreSQL, MySQL or Redis by changing one line, and can
 * move to `sessionkit/express` later.
 *
 * Rows are keyed by a hash of the express-session id (the id never reaches the database),
 * hold the session as JSON (sealed with `secrets`), expire with `session.cookie` (or `ttl`
 * for browser-session cookies), and carry `namespace` as their user id. `touch` writes the
 * timestamps only, never the session. Every method returns a promise and takes a callback.
 *
 * @example
 * ```ts
 * import session from "express-session";
 * import { expressSessionStore } from "sessionkit/express-session";
 * import { sqliteStore } from "sessionkit/sqlite";
 *
 * app.use(session({
 *   store: expressSessionStore(sqliteStore({ path: "sessions.sqlite" })),
 *   secret: process.env.SESSION_SECRET!,
 *   resave: false,
 *   saveUninitialized: false,
 * }));
 * ```
 */
export function expressSessionStore(store: SessionStore, options: ExpressSessionStoreOptions = {}): ExpressSessionStore {
  if (!store || typeof store.get !== "function" || typeof store.create !== "function") {
    throw new SessionConfigError(
      "[sessionkit] [express-session] expressSessionStore(store) needs a sessionkit store, e.g. sqliteStore()",
    );
  }
  const namespace = options.namespace ?? "express-session";
  const ttl = parseDuration(options.ttl ?? "1d", "ttl") ?? 86_400_000;
  const absolute = parseDuration(options.absoluteTimeout ?? null, "absoluteTimeout");
  const clock = options.clock ?? Date.now;
  const Store = loadStoreClass(options);
  const records = createRecordCodec(options.secrets);

  /** One store call; a failure becomes one SessionStoreError (a SessionError passes as is). */
  const call = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof SessionError) throw error;
      throw new SessionStoreError(store.name, operation, error);
    }
  };

  /** The live row of a sid, or null (also when the id hash collides with another sid's). */
  async function rowOf(sid: string, now: number): Promise<StoredSession | null> {
    const row = await call("get", () => store.get(rowIdOf(sid), now));
    if (!row || isExpired(row.expiresAt, now) || !digestsEqual(row.secretHash, secretHashOf(sid))) return null;
    return row;
  }

  async function write(sid: string, session: ExpressSessionRecord): Promise<void> {
    const id = rowIdOf(sid);
    // Validated before any store call: a bad expiry must not leave a half-written session.
    const lifetime = cookieLifetime(session, clock(), ttl);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = clock();
      const row = await call("get", () => store.get(id, now));
      if (row) {
        const next: StoredSession = {
          ...row,
          data: new Uint8Array(0),
          meta: records.encode(row, session),
          version: row.version + 1,
          lastActiveAt: now,
          expiresAt: recordExpiry(lifetime, absolute, row.createdAt, now),
        };
        if (await call("update", () => store.update(next, row.version))) return;
        continue;
      }
      const fresh: StoredSession = {
        id,
        secretHash: secretHashOf(sid),
        userId: namespace,
        data: new Uint8Array(0),
        meta: records.encode({ id, userId: namespace, createdAt: now }, session),
        version: 1,
        createdAt: now,
        lastActiveAt: now,
        expiresAt: recordExpiry(lifetime, absolute, now, now),
        ip: null,
        userAgent: null,
      };
      if (await call("create", () => store.create(fresh))) return;
      // The id is taken: by an expired row that pruning has not removed yet (stores never
      // return it, so delete it), or by a concurrent set of the same sid (then update it).
      if (!(await call("get", () => store.get(id, now)))) await call("delete", () => store.delete(id));
    }
    // express-session itself is last-write-wins; this only trips under a storm of writers.
    throw new SessionConflictError(MAX_ATTEMPTS);
  }

  async function touch(sid: string, session: ExpressSessionRecord): Promise<void> {
    const now = clock();
    const lifetime = cookieLifetime(session, now, ttl);
    // The absolute cap needs the creation time; without one, the touch is a single write.
    const createdAt = absolute === null ? now : (await rowOf(sid, now))?.createdAt;
    if (createdAt === undefined) return; // gone: express-session creates a new one next time
    const expiry = recordExpiry(lifetime, absolute, createdAt, now);
    // A session that is gone stays gone.
    await call("touch", () => store.touch(rowIdOf(sid), secretHashOf(sid), now, expiry));
  }

  const methods: ExpressSessionStoreMethods = {
    get<S extends ExpressSessionRecord>(sid: string, callback?: Callback<S | null>) {
      const work = async () => {
        const row = await rowOf(sid, clock());
        return (row ? records.decode(row) : null) as S | null;
      };
      return respond(work(), callback);
    },
    set: (sid, session, callback) => respond(write(sid, session), callback),
    destroy: (sid, callback) =>
      respond(
        call("delete", () => store.delete(rowIdOf(sid))).then(() => undefined),
        callback,
      ),
    touch: (sid, session, callback) => respond(touch(sid, session), callback),
    all<S extends ExpressSessionRecord>(callback?: Callback<S[]>) {
      const work = async () => {
        const now = clock();
        const rows = await call("all", () => store.listByUser(namespace, now));
        return rows.flatMap((row) => {
          const record = isExpired(row.expiresAt, now) ? null : records.decode(row);
          return record ? [record as S] : [];
        });
      };
      return respond(work(), callback);
    },
    length: (callback) =>
      respond(
        call("length", () => store.listByUser(namespace, clock())).then((rows) => rows.length),
        callback,
      ),
    clear: (callback) =>
      respond(
        call("clear", () => store.deleteByUser(namespace)).then(() => undefined),
        callback,
      ),
  };

  return Object.assign(new Store(), methods) as ExpressSessionStore;
}
