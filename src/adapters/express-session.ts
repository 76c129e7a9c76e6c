import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { type Duration, parseDuration } from "../contract/duration.js";
import { SessionConfigError, SessionConflictError, SessionError, SessionStoreError } from "../contract/errors.js";
import type { SessionStore, StoredSession } from "../contract/store.js";
import { open, seal } from "../crypto/cipher.js";
import { createKeyring, type Secret } from "../crypto/keyring.js";
import { defaultRandom, hashSecret } from "../crypto/token.js";

/**
 * A session as express-session hands it to a store: JSON-able data plus `cookie`. (No index
 * signature, so express-session's own `SessionData` type, augmented or not, fits it.)
 */
export interface ExpressSessionRecord {
  cookie?: { expires?: Date | string | null; maxAge?: number | null; originalMaxAge?: number | null };
}

type Callback<T = void> = (error: unknown, result?: T) => void;

/** The Store methods express-session calls (its documented store interface). */
export interface ExpressSessionStoreMethods {
  /** `S` is your express-session `SessionData`; the store returns what was set. */
  get<S extends ExpressSessionRecord = ExpressSessionRecord>(sid: string, callback: Callback<S | null>): void;
  set(sid: string, session: ExpressSessionRecord, callback?: Callback): void;
  destroy(sid: string, callback?: Callback): void;
  touch(sid: string, session: ExpressSessionRecord, callback?: Callback): void;
  all<S extends ExpressSessionRecord = ExpressSessionRecord>(callback: Callback<S[]>): void;
  length(callback: Callback<number>): void;
  clear(callback?: Callback): void;
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
  /** express-session's module, when it cannot be resolved from sessionkit's location (bundlers). */
  expressSession?: { Store: new () => EventEmitter };
  /** Current time in ms; inject one in tests. @default Date.now */
  clock?: () => number;
  /**
   * Encrypt sessions at rest (AES-256-GCM under a key derived from the first secret, bound to
   * the row id), as `createSessions` does; the other secrets still decrypt (rotation). Without
   * it the bridge stores express-session's JSON as is. Secrets need 32+ bytes.
   * @default none (not encrypted)
   */
  secrets?: readonly Secret[];
}

const MAX_ATTEMPTS = 5;

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
 * Rows are keyed by SHA-256 of the express-session id (the id never reaches the database,
 * and every store's 64-hex-character key fits), hold the session as JSON, expire with
 * `session.cookie.expires` (or `ttl` for browser-session cookies), and carry `namespace` as
 * their user id. `touch` writes the expiry only, never the data.
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
  const clock = options.clock ?? Date.now;
  const Store = loadStoreClass(options);

  const keyring = options.secrets === undefined ? null : createKeyring(options.secrets);

  // express-session's sid is the secret here: the row id is derived from it (128 bits of a
  // hash, the id format every store takes) and the full hash is stored as the secret hash.
  const idOf = (sid: string) => hashSecret(`sessionkit/express-session/id:${String(sid)}`).slice(0, 32);
  const secretHashOf = (sid: string) => hashSecret(String(sid));
  const encode = (id: string, session: ExpressSessionRecord) => {
    const json = new TextEncoder().encode(JSON.stringify(session));
    return keyring ? seal(keyring.current.data, keyring.current.id, json, id, defaultRandom) : json;
  };
  const decode = (id: string, data: Uint8Array): ExpressSessionRecord | null => {
    try {
      const plain = keyring
        ? open(
            data,
            keyring.all.map((k) => k.data),
            id,
          )
        : data;
      if (!plain) return null; // not ours, tampered, or written under a retired secret
      const value = JSON.parse(new TextDecoder().decode(plain)) as unknown;
      return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as ExpressSessionRecord) : null;
    } catch {
      return null; // unreadable rows read as missing: express-session starts a new session
    }
  };
  const expiryOf = (session: ExpressSessionRecord, now: number): number => {
    const cookie = session.cookie;
    if (cookie?.expires) {
      const at = new Date(cookie.expires).getTime();
      if (Number.isFinite(at)) return at;
    }
    if (typeof cookie?.maxAge === "number") return now + cookie.maxAge;
    return now + ttl;
  };

  /** Runs a store call and reports to the callback; failures become SessionStoreError. */
  function run<T>(operation: string, work: () => Promise<T>, callback: Callback<T> | undefined) {
    work().then(
      (result) => callback?.(null, result),
      (error: unknown) => {
        const wrapped = error instanceof SessionError ? error : new SessionStoreError(store.name, operation, error);
        if (callback) callback(wrapped);
        // express-session always passes callbacks; other callers can listen for "error".
        else if (instance.listenerCount("error") > 0) instance.emit("error", wrapped);
      },
    );
  }

  const call = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw new SessionStoreError(store.name, operation, error);
    }
  };

  async function write(sid: string, session: ExpressSessionRecord) {
    const id = idOf(sid);
    const data = encode(id, session);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = clock();
      const expiresAt = expiryOf(session, now);
      const row = await call("get", () => store.get(id, now));
      if (row) {
        const next: StoredSession = { ...row, data, version: row.version + 1, lastActiveAt: now, expiresAt };
        if (await call("update", () => store.update(next, row.version))) return;
      } else {
        const fresh: StoredSession = {
          id,
          secretHash: secretHashOf(sid),
          userId: namespace,
          data,
          version: 1,
          createdAt: now,
          lastActiveAt: now,
          expiresAt,
          ip: null,
          userAgent: null,
          meta: null,
        };
        if (await call("create", () => store.create(fresh))) return;
        // An expired row that pruning has not removed yet still holds the id.
        const live = await call("get", () => store.get(id, now));
        if (!live) await call("delete", () => store.delete(id));
      }
    }
    // express-session itself is last-write-wins; this only trips under a storm of writers.
    throw new SessionConflictError(MAX_ATTEMPTS);
  }

  const methods: ExpressSessionStoreMethods = {
    get<S extends ExpressSessionRecord>(sid: string, callback: Callback<S | null>) {
      run(
        "get",
        async () => {
          const row = await store.get(idOf(sid), clock());
          return (row ? decode(row.id, row.data) : null) as S | null;
        },
        callback,
      );
    },
    set(sid, session, callback) {
      run("set", () => write(sid, session), callback);
    },
    destroy(sid, callback) {
      run(
        "delete",
        async () => {
          await store.delete(idOf(sid));
        },
        callback,
      );
    },
    touch(sid, session, callback) {
      run(
        "touch",
        async () => {
          const now = clock();
          // A session that is gone stays gone (express-session then creates a new one next time).
          await store.touch(idOf(sid), secretHashOf(sid), now, expiryOf(session, now));
        },
        callback,
      );
    },
    all<S extends ExpressSessionRecord>(callback: Callback<S[]>) {
      run(
        "all",
        async () => {
          const now = clock();
          const infos = await store.listByUser(namespace, now);
          const rows = await Promise.all(infos.map((info) => store.get(info.id, now)));
          return rows.flatMap((row) => {
            const session = row ? decode(row.id, row.data) : null;
            return session ? [session as S] : [];
          });
        },
        callback,
      );
    },
    length(callback) {
      run("length", async () => (await store.listByUser(namespace, clock())).length, callback);
    },
    clear(callback) {
      run(
        "clear",
        async () => {
          await store.deleteByUser(namespace);
        },
        callback,
      );
    },
  };

  const instance = Object.assign(new Store(), methods) as ExpressSessionStore;
  return instance;
}
