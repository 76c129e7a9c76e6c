/**
 * The one error family sessionkit throws. Every error has a stable `code`, a message that
 * says what went wrong and what to do, and the underlying `cause` when there is one.
 * No message ever contains a session token.
 */
export class SessionError extends Error {
  /** Stable machine-readable code, e.g. `"SESSION_STORE"`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message.startsWith("[sessionkit]") ? message : `[sessionkit] ${message}`, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The options passed to `createSessions` or a store factory are unusable. */
export class SessionConfigError extends SessionError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SESSION_CONFIG", message, options);
  }
}

/**
 * A store operation failed (connection refused, timeout, missing table...). Frameworks turn
 * it into a 5xx; the engine never answers it with a fresh session.
 */
export class SessionStoreError extends SessionError {
  /** The store that failed, e.g. "postgres". */
  readonly store: string;
  /** The store operation that failed, e.g. "get". */
  readonly operation: string;

  constructor(store: string, operation: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      "SESSION_STORE",
      `[sessionkit] [${store}] ${operation} failed: ${reason}. Check that the ${store} store is reachable and migrated (store.migrate()); the request was not given a fresh session.`,
      { cause },
    );
    this.store = store;
    this.operation = operation;
  }
}

/** The session data is larger than `maxDataBytes`; nothing was written. */
export class SessionDataTooLargeError extends SessionError {
  readonly size: number;
  readonly limit: number;

  constructor(size: number, limit: number) {
    super(
      "SESSION_DATA_TOO_LARGE",
      `session data is ${size} bytes, over maxDataBytes (${limit}); nothing was written. Store less in the session or raise maxDataBytes.`,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** The Set-Cookie header would pass the 4096-byte browser limit (usually too many cookieKeys). */
export class SessionCookieTooLargeError extends SessionError {
  readonly size: number;

  constructor(size: number) {
    super(
      "SESSION_COOKIE_TOO_LARGE",
      `the session cookie would be ${size} bytes, over the 4096-byte browser limit; nothing was written. Carry fewer or smaller values in cookieKeys.`,
    );
    this.size = size;
  }
}

/**
 * Requests in other processes kept changing the session for longer than `retryBudget`.
 * Requests of one process never get it (their commits are queued).
 */
export class SessionConflictError extends SessionError {
  readonly attempts: number;

  constructor(attempts: number, budgetMs?: number) {
    super(
      "SESSION_CONFLICT",
      `the session kept changing under concurrent requests in other processes; gave up after ${attempts} attempts${budgetMs === undefined ? "" : ` in ${budgetMs} ms`}. Retry the request, or raise retryBudget.`,
    );
    this.attempts = attempts;
  }
}

/** A session was used in a way its state does not allow (e.g. changed after commit). */
export class SessionStateError extends SessionError {
  constructor(message: string) {
    super("SESSION_STATE", message);
  }
}
