import { generateToken, hashToken, safeEqual } from "../crypto/token.js";
import { clearCookieHeader, readTransport, setCookieHeader, type Transport } from "../http/transport.js";
import { type Codec, createCodec } from "./codec.js";
import { type ResolvedConfig, resolveConfig, type SessionsOptions } from "./config.js";
import {
  SessionConflictError,
  SessionCookieTooLargeError,
  SessionDataTooLargeError,
  SessionError,
  SessionStateError,
  SessionStoreError,
} from "../contract/errors.js";
import { createEmitter, type SessionEventName, type SessionListener } from "./events.js";
import { expiresAt, isExpired, touchDue } from "./expiry.js";
import { startPruneScheduler } from "./prune-scheduler.js";
import { Session, type SessionContext, type SessionData, type SessionState, STATE } from "./session.js";
import type { StoredSession, StoredSessionInfo, StoreStats } from "../contract/store.js";

/** What the state remembers of a stored row: the compare-and-set and "what changed?" reference. */
function baseOf(row: StoredSession, dataBytes: Uint8Array, authenticatedAt: number | null): NonNullable<SessionState["base"]> {
  const { data: _encrypted, id: _id, ...fields } = row;
  return { ...fields, dataBytes, authenticatedAt };
}

/** Per-request facts the framework knows and a Web `Request` does not. */
export interface LoadOptions {
  /** Client IP, recorded when the session is created. */
  ip?: string | null;
  /**
   * Which transport answers when the request carried no token: "cookie" or the header name.
   * By default the first transport that the request uses, else the first configured.
   */
  transport?: string;
}

/** One session as `list()` shows it ("where am I signed in"). */
export interface SessionInfo {
  id: string;
  userId: string | null;
  createdAt: Date;
  lastActiveAt: Date;
  expiresAt: Date | null;
  ip: string | null;
  userAgent: string | null;
  meta: Record<string, unknown> | null;
  /** True for the session passed as `current`. */
  current: boolean;
}

/** The object `createSessions` returns. */
export interface Sessions<Data extends SessionData = Record<string, unknown>> {
  /** The frozen configuration (adapters read the transports from it). */
  readonly config: ResolvedConfig;
  /**
   * Loads the session a request carries. A missing, forged, garbled, expired or revoked token
   * gives a new empty session (never an exception). One store read at most. Rejects with
   * `SessionStoreError` only when the store fails.
   */
  load(request: Request | Headers, options?: LoadOptions): Promise<Session<Data>>;
  /**
   * Writes what changed (nothing, a touch, a compare-and-set update, a rotation, a delete) and
   * returns the headers to add to the response: Set-Cookie (or the token header), `Vary`, and
   * `Cache-Control: no-store` whenever a cookie is set or cleared.
   */
  commit(session: Session<Data>): Promise<Headers>;
  /** The `cookieKeys` values the cookie carries, without a store read; null without a valid cookie. Hints only: a revoked session still peeks until its cookie expires. */
  peek(request: Request | Headers): Partial<Data> | null;
  /** Checks a CSRF token against the request's session without a store read. */
  verifyCsrf(request: Request | Headers, token: unknown): boolean;
  on<E extends SessionEventName>(event: E, listener: SessionListener<E>): () => void;
  /** The live sessions of a user, most recently active first. */
  list(userId: string, options?: { current?: Session<Data> | string }): Promise<SessionInfo[]>;
  /** Deletes one session by its public id; true if it existed. */
  revoke(id: string): Promise<boolean>;
  /** Deletes a user's sessions except `except` (ids or sessions); returns how many. */
  revokeUser(userId: string, options?: { except?: string | Session<Data> | Array<string | Session<Data>> }): Promise<number>;
  /** Deletes expired sessions in batches of `pruneBatchSize`; returns how many. */
  prune(): Promise<number>;
  /** Counts for monitoring. */
  stats(topUsers?: number): Promise<StoreStats>;
  /** Stops the prune scheduler and closes the store. */
  close(): Promise<void>;
}

/**
 * Creates a session manager.
 *
 * @example
 * ```ts
 * import { createSessions } from "sessionkit";
 * import { sqliteStore } from "sessionkit/sqlite";
 *
 * const sessions = createSessions<{ cart: string[] }>({
 *   store: sqliteStore({ path: "sessions.sqlite" }),
 *   secrets: [process.env.SESSION_SECRET!],
 * });
 * ```
 */
export function createSessions<Data extends SessionData = Record<string, unknown>>(
  options: SessionsOptions<Data>,
): Sessions<Data> {
  const config = resolveConfig(options);
  const { store, policy, clock } = config;
  const codec: Codec = createCodec(config.keyring, config.serializer, config.random);
  const events = createEmitter();

  const context: SessionContext = {
    now: clock,
    newToken: () => generateToken(config.random),
    hash: hashToken,
    csrfFor: codec.csrfFor,
    checkCsrf: (id, token) => {
      let ok = false;
      for (const candidate of codec.csrfCandidates(id)) ok = safeEqual(token, candidate) || ok;
      return ok;
    },
  };

  /** Runs a store call; any failure becomes a SessionStoreError keeping the cause. */
  async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SessionError) throw error;
      throw new SessionStoreError(store.name, operation, error);
    }
  }

  const headersOf = (input: Request | Headers) => (input instanceof Headers ? input : input.headers);

  function pickTransport(headers: Headers, wanted: string | undefined): { transport: Transport; raw: string | undefined } {
    for (const transport of config.transports) {
      const raw = readTransport(transport, headers);
      if (raw !== undefined) return { transport, raw };
    }
    const named = config.transports.find((t) => (t.kind === "cookie" ? "cookie" : t.header) === wanted?.toLowerCase());
    return { transport: named ?? (config.transports[0] as Transport), raw: undefined };
  }

  function freshState(transport: Transport, hadToken: boolean, ip: string | null, userAgent: string | null): SessionState {
    return {
      token: null,
      originalId: null,
      base: null,
      data: {},
      maybeDirty: true,
      userId: null,
      authenticatedAt: null,
      meta: null,
      ip,
      userAgent,
      rotated: null,
      destroyed: false,
      keep: false,
      keyStale: false,
      cookiePayload: null,
      transport,
      hadToken,
      interrupted: false,
      committing: false,
    };
  }

  async function load(request: Request | Headers, options: LoadOptions = {}): Promise<Session<Data>> {
    const headers = headersOf(request);
    // Bounded like the user agent: a proxy chain must never make a session write fail.
    const ip = options.ip?.slice(0, 256) ?? null;
    const userAgent = headers.get("user-agent")?.slice(0, 512) ?? null;
    const { transport, raw } = pickTransport(headers, options.transport);
    const fresh = () => new Session<Data>(context, freshState(transport, raw !== undefined, ip, userAgent));
    if (raw === undefined) return fresh();

    const parsed = codec.parseValue(raw);
    if (!parsed.token) {
      events.emit("invalid-token", { reason: parsed.malformed ? "malformed" : "bad-signature", ip, userAgent });
      return fresh();
    }
    const id = hashToken(parsed.token);
    const now = clock();
    const row = await call("get", () => store.get(id, now));
    if (!row) {
      events.emit("invalid-token", { reason: "unknown", id, ip, userAgent });
      return fresh();
    }
    // The store filters on the stored expiry; this applies the current policy too, so
    // shortening a timeout takes effect at once.
    if (isExpired(expiresAt(policy, row.createdAt, row.lastActiveAt), now) || isExpired(row.expiresAt, now)) {
      events.emit("expired", { id, userId: row.userId });
      return fresh();
    }
    const opened = codec.openData(id, row.data);
    let data: Record<string, unknown> | null = null;
    if (opened) {
      try {
        data = codec.decodeData(opened.data);
      } catch {
        data = null;
      }
    }
    if (!opened || !data) {
      // Left in place: restoring a removed secret makes it readable again. Pruning removes it.
      events.emit("invalid-token", { reason: "undecodable", id, ip, userAgent });
      return fresh();
    }
    const state = freshState(transport, true, row.ip, row.userAgent);
    state.token = parsed.token;
    state.originalId = id;
    state.base = baseOf(row, opened.data, opened.authenticatedAt);
    state.data = data;
    state.maybeDirty = false;
    state.userId = row.userId;
    state.authenticatedAt = opened.authenticatedAt;
    state.meta = row.meta;
    state.keyStale = opened.stale;
    state.cookiePayload = transport.kind === "cookie" ? codec.openPayload(id, parsed.sealedPayload) : null;
    return new Session<Data>(context, state);
  }

  // ---- commit -------------------------------------------------------------------------------

  const bytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

  function cookiePayloadOf(data: Record<string, unknown>): string | null {
    if (config.cookieKeys.length === 0) return null;
    const picked: Record<string, unknown> = {};
    for (const key of config.cookieKeys) if (Object.hasOwn(data, key)) picked[key] = data[key];
    return JSON.stringify(picked);
  }

  function varyValue(): string {
    return config.transports.map((t) => (t.kind === "cookie" ? "Cookie" : t.header)).join(", ");
  }

  /** Adds the token to the response on the session's transport; throws before any write if too big. */
  function tokenHeaders(st: SessionState, token: string, expiry: number | null, now: number): Headers {
    const headers = new Headers({ vary: varyValue() });
    const transport = st.transport;
    if (transport.kind === "header") {
      const value = codec.headerValue(token);
      headers.set(transport.header, transport.header === "authorization" ? `Bearer ${value}` : value);
      headers.set("cache-control", "no-store");
      return headers;
    }
    const maxAge = expiry === null ? null : Math.max(0, Math.floor((expiry - now) / 1000));
    const line = setCookieHeader(transport.cookie, codec.cookieValue(token, cookiePayloadOf(st.data)), maxAge, now);
    if (`Set-Cookie: ${line}`.length > 4096) throw new SessionCookieTooLargeError(`Set-Cookie: ${line}`.length);
    headers.append("set-cookie", line);
    headers.set("cache-control", "no-store");
    return headers;
  }

  function clearingHeaders(st: SessionState): Headers {
    const headers = new Headers({ vary: varyValue() });
    if (st.transport.kind === "cookie") {
      headers.append("set-cookie", clearCookieHeader(st.transport.cookie));
      headers.set("cache-control", "no-store");
    }
    return headers;
  }

  /** After an interrupted commit the request's changes are dropped and it continues as new. */
  function interrupt(session: Session<Data>, reason: "gone" | "undecodable"): Headers {
    const st = session[STATE];
    events.emit("interrupted", { id: st.originalId ?? session.id, userId: st.base?.userId ?? null, reason });
    const headers = clearingHeaders(st);
    Object.assign(st, freshState(st.transport, false, st.ip, st.userAgent), { interrupted: true });
    return headers;
  }

  /** Marks the state as matching what is now stored. */
  function rebase(st: SessionState, row: StoredSession, dataBytes: Uint8Array, token: string) {
    st.token = token;
    st.originalId = row.id;
    st.base = baseOf(row, dataBytes, st.authenticatedAt);
    st.rotated = null;
    st.keyStale = false;
    st.cookiePayload = cookiePayloadOf(st.data);
  }

  /**
   * Another request wrote first: start from its row and re-apply only what this request
   * changed (per top-level key, compared by serialized value so in-place edits count).
   * Returns false if the stored row cannot be read any more.
   */
  function mergeInto(st: SessionState, theirs: StoredSession): boolean {
    const base = st.base;
    if (!base) return false;
    const opened = codec.openData(theirs.id, theirs.data);
    if (!opened) return false;
    let theirData: Record<string, unknown>;
    try {
      theirData = codec.decodeData(opened.data);
    } catch {
      return false;
    }
    const baseData = codec.decodeData(base.dataBytes);
    const enc = (v: unknown) => codec.encodeData({ v });
    for (const key of new Set([...Object.keys(baseData), ...Object.keys(st.data)])) {
      const mine = Object.hasOwn(st.data, key);
      const was = Object.hasOwn(baseData, key);
      if (mine === was && (!mine || bytesEqual(enc(st.data[key]), enc(baseData[key])))) continue;
      if (mine) theirData[key] = st.data[key];
      else delete theirData[key];
    }
    st.data = theirData;
    st.maybeDirty = true;
    if (st.userId === base.userId) st.userId = theirs.userId;
    if (st.authenticatedAt === base.authenticatedAt) st.authenticatedAt = opened.authenticatedAt;
    if (st.meta === base.meta) st.meta = theirs.meta;
    st.base = baseOf(theirs, opened.data, opened.authenticatedAt);
    return true;
  }

  function encodeChecked(st: SessionState): Uint8Array {
    const bytes = codec.encodeData(st.data);
    if (bytes.length > config.maxDataBytes) throw new SessionDataTooLargeError(bytes.length, config.maxDataBytes);
    return bytes;
  }

  async function enforceUserLimit(session: Session<Data>) {
    const userId = session.userId;
    const max = config.maxSessionsPerUser;
    if (max === null || userId === null) return;
    const now = clock();
    const list = await call("listByUser", () => store.listByUser(userId, now));
    if (list.length <= max) return;
    const currentId = session.id;
    const others = list.filter((s) => s.id !== currentId).sort((a, b) => b.lastActiveAt - a.lastActiveAt);
    for (const victim of others.slice(max - 1)) {
      if (await call("delete", () => store.delete(victim.id))) {
        events.emit("revoked", { id: victim.id, userId, reason: "limit" });
      }
    }
  }

  async function commitNew(session: Session<Data>, now: number): Promise<Headers> {
    const st = session[STATE];
    const empty = Object.keys(st.data).length === 0 && st.userId === null && !st.keep && st.meta === null;
    // Lazy: a visitor (or bot) whose session holds nothing costs no row and no cookie.
    if (empty) return new Headers({ vary: varyValue() });
    const dataBytes = encodeChecked(st);
    st.token ??= context.newToken();
    const token = st.token;
    const id = hashToken(token);
    const row: StoredSession = {
      id,
      userId: st.userId,
      data: codec.sealData(id, st.authenticatedAt, dataBytes),
      version: 1,
      createdAt: now,
      lastActiveAt: now,
      expiresAt: expiresAt(policy, now, now),
      ip: st.ip,
      userAgent: st.userAgent,
      meta: st.meta,
    };
    const headers = tokenHeaders(st, token, row.expiresAt, now);
    if (!(await call("create", () => store.create(row)))) {
      throw new SessionStateError("a freshly generated session id already exists; check the random source");
    }
    rebase(st, row, dataBytes, token);
    events.emit("created", { id, userId: row.userId });
    await enforceUserLimit(session);
    return headers;
  }

  async function commitExisting(session: Session<Data>, now: number): Promise<Headers> {
    const st = session[STATE];
    for (let attempt = 1; attempt <= config.maxRetries; attempt++) {
      const base = st.base as NonNullable<SessionState["base"]>;
      const oldId = st.originalId as string;
      // Untouched data equals what was loaded: no need to serialize it to find out.
      const dataBytes = st.maybeDirty ? encodeChecked(st) : base.dataBytes;
      const changed =
        st.rotated !== null ||
        st.keyStale ||
        !bytesEqual(dataBytes, base.dataBytes) ||
        st.userId !== base.userId ||
        st.authenticatedAt !== base.authenticatedAt ||
        st.meta !== base.meta;

      if (!changed) {
        if (!touchDue(policy, base.lastActiveAt, now)) return new Headers({ vary: varyValue() });
        const expiry = expiresAt(policy, base.createdAt, now);
        const headers = tokenHeaders(st, st.token as string, expiry, now);
        if (!(await call("touch", () => store.touch(oldId, now, expiry)))) return interrupt(session, "gone");
        base.lastActiveAt = now;
        base.expiresAt = expiry;
        // A header transport only sends a token when it is new.
        return st.transport.kind === "cookie" ? headers : new Headers({ vary: varyValue() });
      }

      const rotating = st.rotated;
      // After rotate()/login() the state already holds the new token; otherwise the loaded one.
      const token = st.token as string;
      const id = rotating ? hashToken(token) : oldId;
      const row: StoredSession = {
        id,
        userId: st.userId,
        data: codec.sealData(id, st.authenticatedAt, dataBytes),
        version: base.version + 1,
        createdAt: base.createdAt,
        lastActiveAt: now,
        expiresAt: expiresAt(policy, base.createdAt, now),
        ip: base.ip,
        userAgent: base.userAgent,
        meta: st.meta,
      };
      const payloadChanged = cookiePayloadOf(st.data) !== st.cookiePayload;
      const sendToken = rotating !== null || payloadChanged || touchDue(policy, base.lastActiveAt, now);
      const headers = sendToken ? tokenHeaders(st, token, row.expiresAt, now) : new Headers({ vary: varyValue() });
      const ok = rotating
        ? await call("rotate", () => store.rotate(oldId, base.version, row))
        : await call("update", () => store.update(row, base.version));
      if (ok) {
        rebase(st, row, dataBytes, token);
        if (rotating) {
          events.emit("rotated", { id, previousId: oldId, userId: row.userId, reason: rotating });
          if (rotating === "login") await enforceUserLimit(session);
        }
        if (!sendToken || (st.transport.kind === "header" && !rotating)) return new Headers({ vary: varyValue() });
        return headers;
      }
      // Lost the compare-and-set: someone else wrote, or the session is gone.
      const theirs = await call("get", () => store.get(oldId, now));
      if (!theirs) return interrupt(session, "gone");
      if (!mergeInto(st, theirs)) return interrupt(session, "undecodable");
    }
    throw new SessionConflictError(config.maxRetries);
  }

  async function commit(session: Session<Data>): Promise<Headers> {
    if (!(session instanceof Session)) throw new TypeError("[sessionkit] commit() takes the session that load() returned");
    const st = session[STATE];
    if (st.committing) throw new SessionStateError("commit() is already running for this session; await it once");
    st.committing = true;
    try {
      const now = clock();
      if (st.destroyed) {
        const id = st.originalId;
        if (id !== null) {
          await call("delete", () => store.delete(id));
          events.emit("destroyed", { id, userId: st.base?.userId ?? null });
        }
        const headers = id !== null || st.hadToken ? clearingHeaders(st) : new Headers({ vary: varyValue() });
        Object.assign(st, freshState(st.transport, false, st.ip, st.userAgent));
        return headers;
      }
      return st.originalId === null ? await commitNew(session, now) : await commitExisting(session, now);
    } finally {
      st.committing = false;
    }
  }

  // ---- management ---------------------------------------------------------------------------

  const toInfo = (row: StoredSessionInfo, currentId: string | null): SessionInfo => {
    let meta: Record<string, unknown> | null = null;
    try {
      meta = row.meta === null ? null : (JSON.parse(row.meta) as Record<string, unknown>);
    } catch {
      meta = null;
    }
    return {
      id: row.id,
      userId: row.userId,
      createdAt: new Date(row.createdAt),
      lastActiveAt: new Date(row.lastActiveAt),
      expiresAt: row.expiresAt === null ? null : new Date(row.expiresAt),
      ip: row.ip,
      userAgent: row.userAgent,
      meta,
      current: row.id === currentId,
    };
  };

  const idOf = (value: string | Session<Data>) => (typeof value === "string" ? value : value.id);

  async function prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const now = clock();
      const n = await call("pruneExpired", () => store.pruneExpired(now, config.pruneBatchSize));
      total += n;
      if (n < config.pruneBatchSize) break;
    }
    if (total > 0) events.emit("expired", { count: total });
    return total;
  }

  const scheduler = config.pruneInterval === null ? null : startPruneScheduler(config.pruneInterval, prune, events);

  return Object.freeze({
    config,
    load,
    commit,
    peek(request: Request | Headers): Partial<Data> | null {
      const cookie = config.transports.find((t) => t.kind === "cookie");
      if (!cookie) return null;
      const raw = readTransport(cookie, headersOf(request));
      if (raw === undefined) return null;
      const parsed = codec.parseValue(raw);
      if (!parsed.token) return null;
      const payload = codec.openPayload(hashToken(parsed.token), parsed.sealedPayload);
      if (payload === null) return {};
      try {
        const values = JSON.parse(payload) as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const key of config.cookieKeys) if (Object.hasOwn(values, key)) out[key] = values[key];
        return out as Partial<Data>;
      } catch {
        return {};
      }
    },
    verifyCsrf(request: Request | Headers, token: unknown): boolean {
      if (typeof token !== "string" || token.length === 0 || token.length > 256) return false;
      const { raw } = pickTransport(headersOf(request), undefined);
      if (raw === undefined) return false;
      const parsed = codec.parseValue(raw);
      return parsed.token !== null && context.checkCsrf(hashToken(parsed.token), token);
    },
    on: events.on,
    async list(userId: string, options: { current?: Session<Data> | string } = {}) {
      const now = clock();
      const currentId = options.current === undefined ? null : idOf(options.current);
      const rows = await call("listByUser", () => store.listByUser(userId, now));
      return rows.map((row) => toInfo(row, currentId)).sort((a, b) => b.lastActiveAt.getTime() - a.lastActiveAt.getTime());
    },
    async revoke(id: string) {
      if (typeof id !== "string" || !/^[0-9a-f]{64}$/.test(id)) return false;
      const now = clock();
      const row = events.has("revoked") ? await call("get", () => store.get(id, now)) : null;
      const deleted = await call("delete", () => store.delete(id));
      if (deleted) events.emit("revoked", { id, userId: row?.userId ?? null, reason: "revoke" });
      return deleted;
    },
    async revokeUser(userId: string, options: { except?: string | Session<Data> | Array<string | Session<Data>> } = {}) {
      const except =
        options.except === undefined ? [] : (Array.isArray(options.except) ? options.except : [options.except]).map(idOf);
      const ids = await call("deleteByUser", () => store.deleteByUser(userId, except));
      for (const id of ids) events.emit("revoked", { id, userId, reason: "revoke-user" });
      return ids.length;
    },
    prune,
    stats: (topUsers = 10) => call("stats", () => store.stats(clock(), topUsers)),
    async close() {
      await scheduler?.stop();
      await call("close", () => store.close());
    },
  });
}
