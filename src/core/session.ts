import type { Transport } from "../http/transport.js";
import { SessionStateError } from "../contract/errors.js";

/** Session data: any object type; `Record<string, unknown>` when not given. */
export type SessionData = object;

/** String keys of the data type. */
export type DataKey<Data> = keyof Data & string;

/** What the engine gives a Session so it can work without knowing the engine. */
export interface SessionContext {
  now(): number;
  newToken(): string;
  hash(token: string): string;
  csrfFor(id: string): string;
  checkCsrf(id: string, token: string): boolean;
}

/** The state the engine reads and rewrites at commit; not part of the public API. */
export interface SessionState {
  /** The token this session answers with; null until needed (bots never cost a token). */
  token: string | null;
  /** The stored row this session was loaded from; null for a new session. */
  originalId: string | null;
  /** Version, timestamps and device fields of the loaded row. */
  base: {
    version: number;
    createdAt: number;
    lastActiveAt: number;
    expiresAt: number | null;
    ip: string | null;
    userAgent: string | null;
    /** Serialized data as loaded (the merge base and the "changed?" reference). */
    dataBytes: Uint8Array;
    userId: string | null;
    authenticatedAt: number | null;
    meta: string | null;
  } | null;
  data: Record<string, unknown>;
  /**
   * False while the data provably equals what was loaded: nothing was set or deleted and no
   * object value was handed out (which the app could change in place). Lets a read-only
   * request skip serializing the data at commit. Never reset within a request.
   */
  maybeDirty: boolean;
  userId: string | null;
  authenticatedAt: number | null;
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
   * Public handle of the session: the SHA-256 of its token, not the token. Safe to show,
   * log and pass to `sessions.revoke()`. Changes when the token rotates.
   */
  get id(): string {
    const st = this[STATE];
    if (st.originalId !== null && st.rotated === null) return st.originalId;
    st.token ??= this.#ctx.newToken();
    return this.#ctx.hash(st.token);
  }

  /** The signed-in user bound by `login()`, or null. */
  get userId(): string | null {
    return this[STATE].userId;
  }

  /** True until the session has been stored (a first visit, or after an unknown token). */
  get isNew(): boolean {
    return this[STATE].originalId === null;
  }

  /** When `login()` last ran: ask for a fresh sign-in before sensitive actions if it is old. */
  get authenticatedAt(): Date | null {
    const at = this[STATE].authenticatedAt;
    return at === null ? null : new Date(at);
  }

  /** True after a commit that found the session destroyed, revoked or rotated away meanwhile. */
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
    this[STATE].keep = true;
    return this.#ctx.csrfFor(this.id);
  }

  /** Constant-time check of a submitted CSRF token. */
  verifyCsrf(token: unknown): boolean {
    if (typeof token !== "string" || token.length === 0 || token.length > 256) return false;
    return this.#ctx.checkCsrf(this.id, token);
  }

  #newToken(reason: "login" | "rotate") {
    const st = this[STATE];
    st.token = this.#ctx.newToken();
    // A new session has no row to move: it simply starts with the new token.
    if (st.originalId !== null) st.rotated = st.rotated === "login" ? "login" : reason;
  }

  #writable() {
    const st = this[STATE];
    if (st.destroyed) throw new SessionStateError("the session was destroyed; load a new one to store data");
    if (st.committing) throw new SessionStateError("the session is being committed; change it before commit or after it returns");
  }
}
