import type { Duration } from "../contract/duration.js";
import { SessionStateError } from "../contract/errors.js";
import type { Transport } from "../http/transport.js";
import type { Lifetime } from "./envelope.js";

/** Session data: any object type; `Record<string, unknown>` when not given. */
export type SessionData = object;

/** String keys of the data type. */
export type DataKey<Data> = keyof Data & string;

/** What the engine gives a Session so it can work without knowing the engine. */
export interface SessionContext {
  now(): number;
  newId(): string;
  newSecret(): string;
  hashSecret(secret: string): string;
  csrfFor(id: string, secretHash: string): string;
  checkCsrf(id: string, secretHash: string, token: string): boolean;
  /** Validates and bounds a per-session lifetime by the configured maxima. */
  resolveLifetime(lifetime: LifetimeOptions): Lifetime;
}

/** What `session.setLifetime()` takes. */
export interface LifetimeOptions {
  /** Sliding inactivity timeout of this session; `null` = none (if the maxima allow it). */
  idle?: Duration | null;
  /** Lifetime of this session from its creation; `null` = none (if the maxima allow it). */
  absolute?: Duration | null;
  /**
   * `false`: send the cookie without Max-Age/Expires, so the browser drops it when it closes
   * (what express-session does for `cookie.maxAge = null`). The server-side timeouts still
   * apply. `true` goes back to a cookie that expires with the session. @default true
   */
  persistent?: boolean;
}

/** The stored row as loaded: the compare-and-set and "what changed?" reference. */
export interface LoadedRow {
  version: number;
  secretHash: string;
  createdAt: number;
  lastActiveAt: number;
  expiresAt: number | null;
  ip: string | null;
  userAgent: string | null;
  /** Serialized data as loaded (the merge base and the "changed?" reference). */
  dataBytes: Uint8Array;
  userId: string | null;
  authenticatedAt: number | null;
  lifetime: Lifetime | null;
  meta: string | null;
}

/** The state the engine reads and rewrites at commit; not part of the public API. */
export interface SessionState {
  /** The row id (the public `session.id`); null until needed (bots never cost one). */
  id: string | null;
  /** The secret the response answers with: the loaded one, or a new one after rotate()/login(). */
  secret: string | null;
  /** The stored row this session was loaded from; null for a session not stored yet. */
  base: LoadedRow | null;
  data: Record<string, unknown>;
  /**
   * False while the data provably equals what was loaded: nothing was set or deleted and no
   * object value was handed out (which the app could change in place). Lets a read-only
   * request skip serializing the data at commit. Never reset within a request.
   */
  maybeDirty: boolean;
  /**
   * The decoded data of `base` that no one else can change (the near-cache's copy), when the
   * session came from it: a commit compares against it instead of serializing. Null otherwise.
   */
  pristine: Record<string, unknown> | null;
  userId: string | null;
  authenticatedAt: number | null;
  lifetime: Lifetime | null;
  meta: string | null;
  ip: string | null;
  userAgent: string | null;
  rotated: "login" | "rotate" | null;
  destroyed: boolean;
  /** The app asked for something (a CSRF token) that needs the session to persist. */
  keep: boolean;
  /** Data was decrypted with an older secret: re-encrypt on the next write. */
  keyStale: boolean;
  /** The decrypted cookieKeys payload the request carried, to know when to resend it. */
  cookiePayload: string | null;
  /**
   * The token value the client holds: the one the request carried, or the one the last commit
   * sent. The near-cache keeps a written row under it (write-through). Null when unknown.
   */
  raw: string | null;
  /** The transport the response goes out on. */
  transport: Transport;
  /** The request carried a value on that transport (valid or not). */
  hadToken: boolean;
  interrupted: boolean;
  committing: boolean;
}

export const STATE: unique symbol = Symbol("sessionkit.state");

/**
 * The session of one request. Read and change data with `get`/`set`/`delete`/`clear`;
 * nothing is written until `sessions.commit(session)` (adapters call it for you), and then
 * only what changed.
 *
 * @example
 * ```ts
 * const session = await sessions.load(request);
 * session.set("cart", [...(session.get("cart") ?? []), item]);
 * const headers = await sessions.commit(session);
 * ```
 */
export class Session<Data extends SessionData = Record<string, unknown>> {
  /** @internal */
  readonly [STATE]: SessionState;
  readonly #ctx: SessionContext;

  /** @internal Created by `sessions.load()`; never construct one yourself. */
  constructor(ctx: SessionContext, state: SessionState) {
    this.#ctx = ctx;
    this[STATE] = state;
  }

  /**
   * Public handle of the session: its row id, not the token (which also holds a secret).
   * Safe to show, log and pass to `sessions.revoke()`. Stable for the life of the session:
   * login and rotation replace the secret, never the id.
   */
  get id(): string {
    return idOf(this[STATE], this.#ctx);
  }

  /** The signed-in user bound by `login()`, or null. */
  get userId(): string | null {
    return this[STATE].userId;
  }

  /** True until the session has been stored (a first visit, or after an unknown token). */
  get isNew(): boolean {
    return this[STATE].base === null;
  }

  /** When `login()` last ran: ask for a fresh sign-in before sensitive actions if it is old. */
  get authenticatedAt(): Date | null {
    const at = this[STATE].authenticatedAt;
    return at === null ? null : new Date(at);
  }

  /**
   * True after a commit that dropped this request's changes: the session was destroyed,
   * revoked or expired meanwhile, or another request signed in on it (a login) first.
   */
  get interrupted(): boolean {
    return this[STATE].interrupted;
  }

  get createdAt(): Date | null {
    const base = this[STATE].base;
    return base ? new Date(base.createdAt) : null;
  }

  get lastActiveAt(): Date | null {
    const base = this[STATE].base;
    return base ? new Date(base.lastActiveAt) : null;
  }

  get expiresAt(): Date | null {
    const exp = this[STATE].base?.expiresAt;
    return exp === undefined || exp === null ? null : new Date(exp);
  }

  /** Client IP recorded when the session was created (what the adapter saw). */
  get ip(): string | null {
    return this[STATE].ip;
  }

  get userAgent(): string | null {
    return this[STATE].userAgent;
  }

  /** App-defined device information stored unencrypted beside the session (shown by `list`). */
  get meta(): Record<string, unknown> | null {
    const meta = this[STATE].meta;
    return meta === null ? null : (JSON.parse(meta) as Record<string, unknown>);
  }

  set meta(value: Record<string, unknown> | null) {
    this.#writable();
    this[STATE].meta = value === null ? null : JSON.stringify(value);
  }

  get<K extends DataKey<Data>>(key: K): Data[K] | undefined {
    const value = this[STATE].data[key];
    if (typeof value === "object" && value !== null) this[STATE].maybeDirty = true;
    return value as Data[K] | undefined;
  }

  /** Sets a key; `undefined` deletes it. Nested objects may also be changed in place. */
  set<K extends DataKey<Data>>(key: K, value: Data[K]): this {
    this.#writable();
    if (typeof key !== "string") throw new TypeError("[sessionkit] session keys are strings");
    // Assigning "__proto__" would swap the data object's prototype instead of storing a key.
    if (key === "__proto__") throw new TypeError('[sessionkit] "__proto__" cannot be a session key');
    if (value === undefined) delete this[STATE].data[key];
    else this[STATE].data[key] = value;
    this[STATE].maybeDirty = true;
    return this;
  }

  has(key: DataKey<Data>): boolean {
    return Object.hasOwn(this[STATE].data, key);
  }

  delete(key: DataKey<Data>): boolean {
    this.#writable();
    const had = this.has(key);
    delete this[STATE].data[key];
    this[STATE].maybeDirty = true;
    return had;
  }

  /** Removes every key (the session itself, its user and token stay). */
  clear(): void {
    this.#writable();
    this[STATE].data = {};
    this[STATE].maybeDirty = true;
  }

  keys(): DataKey<Data>[] {
    return Object.keys(this[STATE].data) as DataKey<Data>[];
  }

  /** A shallow copy of the data. */
  toJSON(): Partial<Data> {
    this[STATE].maybeDirty = true; // the copy is shallow: nested values can still change
    return { ...this[STATE].data } as Partial<Data>;
  }

  /**
   * Binds the session to `userId` and rotates its token (session fixation defence), keeping
   * the data. Records `authenticatedAt`. Written at commit.
   */
  async login(userId: string): Promise<void> {
    this.#writable();
    // 255 fits every store's indexed user_id column (MySQL's VARCHAR(255) is the tightest).
    if (typeof userId !== "string" || userId.length === 0 || userId.length > 255) {
      throw new TypeError("[sessionkit] login(userId) needs a user id string of 1 to 255 characters");
    }
    const st = this[STATE];
    st.userId = userId;
    st.authenticatedAt = this.#ctx.now();
    this.#newToken("login");
  }

  /** Issues a new token for the same data; the old token stops working at commit. */
  rotate(): void {
    this.#writable();
    this.#newToken("rotate");
  }

  /** Deletes the session at commit and clears the cookie. */
  destroy(): void {
    const st = this[STATE];
    if (st.committing)
      throw new SessionStateError("the session is being committed; destroy it before commit or after it returns");
    st.destroyed = true;
  }

  /** True once `destroy()` was called and not yet committed. */
  get destroyed(): boolean {
    return this[STATE].destroyed;
  }

  /**
   * A CSRF token bound to this session (an HMAC of its id under a key of its own). Put it in
   * forms or a header; check it with `verifyCsrf` or `sessions.verifyCsrf(request, token)`,
   * which needs no store read. It changes when the token rotates (at login). Asking for one
   * keeps the session, so an anonymous form page still gets its cookie.
   */
  csrfToken(): string {
    const st = this[STATE];
    st.keep = true;
    return this.#ctx.csrfFor(idOf(st, this.#ctx), this.#ctx.hashSecret(secretOf(st, this.#ctx)));
  }

  /** Constant-time check of a submitted CSRF token. */
  verifyCsrf(token: unknown): boolean {
    if (typeof token !== "string" || token.length === 0 || token.length > 256) return false;
    const st = this[STATE];
    return this.#ctx.checkCsrf(idOf(st, this.#ctx), this.#ctx.hashSecret(secretOf(st, this.#ctx)), token);
  }

  /**
   * Gives this session its own timeouts ("remember me"), bounded by the configured maxima
   * (`maxIdleTimeout`, `maxAbsoluteTimeout`). Stored, encrypted, with the session; the
   * cookie's Max-Age follows. A field left out keeps its current value.
   *
   * @example
   * ```ts
   * await session.login(user.id);
   * if (form.remember) session.setLifetime({ idle: "30d", absolute: "90d" });
   * else session.setLifetime({ persistent: false }); // gone when the browser closes
   * ```
   */
  setLifetime(lifetime: LifetimeOptions): void {
    this.#writable();
    const st = this[STATE];
    st.lifetime = { ...(st.lifetime ?? {}), ...this.#ctx.resolveLifetime(lifetime) };
  }

  /** The per-session timeouts set by `setLifetime()`, in ms; null fields = none, absent = default. */
  get lifetime(): Readonly<Lifetime> | null {
    return this[STATE].lifetime;
  }

  #newToken(reason: "login" | "rotate") {
    const st = this[STATE];
    st.secret = this.#ctx.newSecret();
    // A session not stored yet has no row to change: it simply starts with the new secret.
    if (st.base !== null) st.rotated = st.rotated === "login" ? "login" : reason;
  }

  #writable() {
    const st = this[STATE];
    if (st.destroyed) throw new SessionStateError("the session was destroyed; load a new one to store data");
    if (st.committing) throw new SessionStateError("the session is being committed; change it before commit or after it returns");
  }
}

/** The row id, made on first use for a session not stored yet. */
function idOf(st: SessionState, ctx: SessionContext): string {
  st.id ??= ctx.newId();
  return st.id;
}

/** The secret the response will carry, made on first use. */
function secretOf(st: SessionState, ctx: SessionContext): string {
  st.secret ??= ctx.newSecret();
  return st.secret;
}
