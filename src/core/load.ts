import type { StoredSession } from "../contract/store.js";
import { digestsEqual, hashSecret } from "../crypto/token.js";
import { type HeaderReader, readTransport, type Transport } from "../http/transport.js";

export type { HeaderReader } from "../http/transport.js";

import type { Engine } from "./engine.js";
import { expiresAt, isExpired } from "./expiry.js";
import type { NearCache } from "./near-cache.js";
import { type LoadedRow, Session, type SessionData, type SessionState } from "./session.js";

/** Per-request facts the framework knows and a Web `Request` does not. */
export interface LoadOptions {
  /**
   * Client IP, recorded when the session is created. A function is called only when the IP is
   * needed (a new session, an invalid-token event), not for a request that resumes a session.
   */
  ip?: string | null | (() => string | null | undefined);
  /**
   * Which transport answers when the request carried no token: "cookie" or the header name.
   * By default the first transport that the request uses, else the first configured.
   */
  transport?: string;
}

/** What `load()` reads a request from: a Web `Request`, `Headers`, or a {@link HeaderReader}. */
export type HeaderSource = Request | HeaderReader;

export const headersOf = (input: HeaderSource): HeaderReader =>
  typeof (input as Partial<HeaderReader>).get === "function" ? (input as HeaderReader) : (input as Request).headers;

/** The transport the request uses (or the one to answer on) and the raw value it carries. */
export function pickTransport(
  transports: readonly Transport[],
  headers: HeaderReader,
  wanted: string | undefined,
): { transport: Transport; raw: string | undefined } {
  for (const transport of transports) {
    const raw = readTransport(transport, headers);
    if (raw !== undefined) return { transport, raw };
  }
  const named = transports.find((t) => (t.kind === "cookie" ? "cookie" : t.header) === wanted?.toLowerCase());
  return { transport: named ?? (transports[0] as Transport), raw: undefined };
}

export function freshState(transport: Transport, hadToken: boolean, ip: string | null, userAgent: string | null): SessionState {
  return {
    id: null,
    secret: null,
    base: null,
    data: {},
    maybeDirty: true,
    pristine: null,
    userId: null,
    authenticatedAt: null,
    lifetime: null,
    meta: null,
    ip,
    userAgent,
    rotated: null,
    destroyed: false,
    keep: false,
    keyStale: false,
    cookiePayload: null,
    raw: null,
    transport,
    hadToken,
    interrupted: false,
    committing: false,
  };
}

/** A stored row decrypted and decoded: what a session loads, and what a conflict merges onto. */
export interface OpenedRow {
  row: StoredSession;
  base: LoadedRow;
  data: Record<string, unknown>;
  keyStale: boolean;
}

/** Decrypts and decodes a row; null when it does not authenticate for its own fields or does not decode. */
export function openRow(engine: Engine, row: StoredSession): OpenedRow | null {
  const opened = engine.codec.openData(row, row.data);
  if (!opened) return null;
  let data: Record<string, unknown>;
  try {
    data = engine.codec.decodeData(opened.data);
  } catch {
    return null;
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) return null;
  return { row, base: loadedRowOf(row, opened.data, opened.authenticatedAt, opened.lifetime), data, keyStale: opened.stale };
}

/**
 * The loaded-row view of a stored row. Spelled out rather than `{ id, data, ...rest }`: object
 * rest and spread allocate through a slow generic path, and this runs on every request.
 */
export function loadedRowOf(
  row: StoredSession,
  dataBytes: Uint8Array,
  authenticatedAt: number | null,
  lifetime: LoadedRow["lifetime"],
): LoadedRow {
  return {
    version: row.version,
    secretHash: row.secretHash,
    createdAt: row.createdAt,
    lastActiveAt: row.lastActiveAt,
    expiresAt: row.expiresAt,
    ip: row.ip,
    userAgent: row.userAgent,
    dataBytes,
    userId: row.userId,
    authenticatedAt,
    lifetime,
    meta: row.meta,
  };
}

/** Whether an opened row has expired under the current policy (shortening a timeout applies at once). */
export function expiredNow(engine: Engine, opened: OpenedRow, now: number): boolean {
  const { base } = opened;
  return (
    isExpired(base.expiresAt, now) ||
    isExpired(expiresAt(engine.config.policy, base.createdAt, base.lastActiveAt, base.lifetime), now)
  );
}

/**
 * Loads the session a request carries. A missing, forged, garbled, expired or revoked token
 * gives a new empty session; only a failing store rejects.
 */
export async function loadSession<Data extends SessionData>(
  engine: Engine,
  request: HeaderSource,
  options: LoadOptions = {},
): Promise<Session<Data>> {
  const { config, codec, events, context } = engine;
  const headers = headersOf(request);
  // Read only when needed: a request that resumes its session uses the stored ones. Bounded:
  // a proxy chain or a long user agent must never make a session write fail.
  let known: { ip: string | null; userAgent: string | null } | undefined;
  const client = () => {
    if (known === undefined) {
      const given = typeof options.ip === "function" ? options.ip() : options.ip;
      known = { ip: given?.slice(0, 256) ?? null, userAgent: headers.get("user-agent")?.slice(0, 512) ?? null };
    }
    return known;
  };
  const { transport, raw } = pickTransport(config.transports, headers, options.transport);
  const fresh = () => {
    const { ip, userAgent } = client();
    return new Session<Data>(context, freshState(transport, raw !== undefined, ip, userAgent));
  };
  if (raw === undefined) return fresh();

  const cache = engine.cache;
  const kind = transport.kind === "cookie" ? "cookie" : transport.header;
  if (cache !== null) {
    const hit = await cachedSession<Data>(engine, cache, raw, kind, transport);
    if (hit !== null) return hit;
  }

  const parsed = codec.parseValue(raw);
  if (!parsed.ok) {
    events.emit("invalid-token", { reason: parsed.reason, ...client() });
    return fresh();
  }
  const { id, secret } = parsed.token;
  const now = config.clock();
  const ticket = cache === null ? 0 : cache.ticket();
  const row = await engine.call("get", () => engine.store.get(id, now));
  // The row is fetched by id, then the secret's hash compared in constant time: a stale
  // (rotated) or guessed secret looks exactly like an unknown id.
  if (!row || !digestsEqual(hashSecret(secret), row.secretHash)) {
    events.emit("invalid-token", { reason: "unknown", id, ...client() });
    return fresh();
  }
  const opened = openRow(engine, row);
  if (!opened) {
    // Left in place: restoring a removed secret makes it readable again. Pruning removes it.
    events.emit("invalid-token", { reason: "undecodable", id, ...client() });
    return fresh();
  }
  if (expiredNow(engine, opened, now)) {
    events.emit("expired", { id, userId: row.userId });
    return fresh();
  }
  const state = freshState(transport, true, row.ip, row.userAgent);
  state.id = id;
  state.secret = secret;
  state.base = opened.base;
  state.data = opened.data;
  state.maybeDirty = false;
  state.userId = row.userId;
  state.authenticatedAt = opened.base.authenticatedAt;
  state.lifetime = opened.base.lifetime;
  state.meta = row.meta;
  state.keyStale = opened.keyStale;
  state.cookiePayload = transport.kind === "cookie" ? codec.openPayload(id, row.secretHash, parsed.sealedPayload) : null;
  state.raw = raw;
  if (cache !== null && !opened.keyStale) {
    cache.offer(ticket, { id, raw, kind, secret, base: opened.base, data: opened.data }, state.cookiePayload);
  }
  return new Session<Data>(context, state);
}

/**
 * Two turns of the event loop: the first lets a message already in this process's socket be
 * read (poll phase); the second lets a connection that closed in that turn be noticed. pg and
 * ioredis report a lost connection from the socket's "close" event, which Node emits in the
 * loop's closing phase, after the first turn's setImmediate callbacks: one turn would still
 * serve a hit while the channel is already gone (seen in CI: a revoke during a cut channel).
 */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

/**
 * A session from the near-cache: the exact transported value verified earlier, the channel up,
 * not older than the cache's ttl, and not expired. Null sends the request down the full path.
 */
async function cachedSession<Data extends SessionData>(
  engine: Engine,
  cache: NearCache,
  raw: string,
  kind: string,
  transport: Transport,
): Promise<Session<Data> | null> {
  const entry = cache.lookup(raw, kind);
  if (entry === undefined) return null;
  if (!cache.synchronous) {
    // An invalidation may already sit in this process's socket, or its connection may just have
    // closed: let either be seen first.
    await nextTurn();
    if (cache.lookup(raw, kind) !== entry) return null;
  }
  const now = engine.config.clock();
  const cached = entry.base;
  if (
    isExpired(cached.expiresAt, now) ||
    isExpired(expiresAt(engine.config.policy, cached.createdAt, cached.lastActiveAt, cached.lifetime), now)
  ) {
    // Another process may have slid the expiry meanwhile: ask the store.
    return null;
  }
  const { base, data } = cache.copyOf(entry);
  const state = freshState(transport, true, base.ip, base.userAgent);
  state.id = entry.id;
  state.secret = entry.secret;
  state.base = base;
  state.data = data;
  state.maybeDirty = false;
  state.pristine = entry.data;
  state.userId = base.userId;
  state.authenticatedAt = base.authenticatedAt;
  state.lifetime = base.lifetime;
  state.meta = base.meta;
  state.cookiePayload = entry.cookiePayload;
  state.raw = raw;
  return new Session<Data>(engine.context, state);
}
