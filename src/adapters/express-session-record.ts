import type { StoredSession, StoredSessionInfo } from "../contract/store.js";
import { createCodec, type RowBinding } from "../core/codec.js";
import { type ExpiryPolicy, expiresAt } from "../core/expiry.js";
import { createKeyring, type Secret } from "../crypto/keyring.js";
import { defaultRandom, hashSecret } from "../crypto/token.js";
import { jsonSerializer } from "../serializers/json.js";
import { encodeToBytes } from "../serializers/resolve.js";

/**
 * A session as express-session hands it to a store: JSON-able data plus `cookie`. (No index
 * signature, so express-session's own `SessionData` type, augmented or not, fits it.)
 */
export interface ExpressSessionRecord {
  cookie?: { expires?: Date | string | null; maxAge?: number | null; originalMaxAge?: number | null };
}

/**
 * express-session's sid is the secret here: the row id is derived from it (128 bits of a
 * hash, the id format every store takes) and its full SHA-256 is kept as the row's secret
 * hash, compared on every read. The sid itself never reaches the database.
 */
export const rowIdOf = (sid: string) => hashSecret(`sessionkit/express-session/id:${String(sid)}`).slice(0, 32);
export const secretHashOf = (sid: string) => hashSecret(String(sid));

/** What the sealed record is bound to (RowBinding): its row, namespace and creation time. */
const bindingOf = (row: { id: string; userId: string | null; createdAt: number }): RowBinding => ({
  id: row.id,
  // Listing returns rows without their secret hash, so it cannot be part of the binding; the id
  // (derived from the sid) already ties the record to one session.
  secretHash: "express-session",
  userId: row.userId,
  createdAt: row.createdAt,
});

/**
 * How records are kept in a row. The record lives in the row's `meta` (JSON text the store
 * returns with every listing), not in `data`: `all()` is then one `listByUser` query instead
 * of one read per session. With `secrets` the record is sealed with the engine's codec
 * (AES-256-GCM, bound to the row; the first secret seals, the others still open) and `meta`
 * holds `{"sealed":"<base64url>"}`; without, `{"plain":<express-session's JSON>}` (stored as
 * is, like connect-redis or connect-pg-simple). Each reader accepts only its own form, so a
 * plaintext row planted in the table is not read by a bridge that encrypts.
 */
export function createRecordCodec(secrets: readonly Secret[] | undefined) {
  const codec = secrets === undefined ? null : createCodec(createKeyring(secrets), jsonSerializer, defaultRandom);

  return {
    encode(row: { id: string; userId: string | null; createdAt: number }, record: ExpressSessionRecord): string {
      if (!codec) return JSON.stringify({ plain: record });
      const json = encodeToBytes(jsonSerializer, record as Record<string, unknown>);
      const sealed = codec.sealData(bindingOf(row), { authenticatedAt: null, lifetime: null }, json);
      return JSON.stringify({ sealed: Buffer.from(sealed).toString("base64url") });
    },

    /** The record a row holds; null when it is not ours, tampered with, or sealed under a retired secret. */
    decode(row: StoredSession | StoredSessionInfo): ExpressSessionRecord | null {
      if (row.meta === null) return null;
      try {
        const value = jsonSerializer.decode(new TextEncoder().encode(row.meta));
        if (!codec) return isRecord(value.plain) ? (value.plain as ExpressSessionRecord) : null;
        if (typeof value.sealed !== "string") return null;
        const opened = codec.openData(bindingOf(row), new Uint8Array(Buffer.from(value.sealed, "base64url")));
        return opened ? (jsonSerializer.decode(opened.data) as ExpressSessionRecord) : null;
      } catch {
        return null; // unreadable rows read as missing: express-session starts a new session
      }
    },
  };
}

export type RecordCodec = ReturnType<typeof createRecordCodec>;

const isRecord = (value: unknown) => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * How long the record's cookie says the session lives, in ms from now: `cookie.expires`, else
 * `cookie.maxAge`, else `ttl` (a browser-session cookie). Throws on an expiry that is not a
 * time (`new Date(NaN)`, a garbled string, `Infinity`), before anything is written: stores
 * would otherwise keep a row they never return, or one that never expires.
 */
export function cookieLifetime(record: ExpressSessionRecord, now: number, ttl: number): number {
  const cookie = record?.cookie;
  if (cookie?.expires !== undefined && cookie.expires !== null) {
    const at = cookie.expires instanceof Date ? cookie.expires.getTime() : new Date(cookie.expires).getTime();
    if (!Number.isFinite(at)) {
      throw new TypeError(
        `[sessionkit] [express-session] session.cookie.expires is not a valid date (${String(cookie.expires)}); nothing was written. Set cookie.maxAge to a number of milliseconds, or cookie.expires to a valid Date.`,
      );
    }
    return at - now;
  }
  if (cookie?.maxAge !== undefined && cookie.maxAge !== null) {
    if (typeof cookie.maxAge !== "number" || !Number.isFinite(cookie.maxAge)) {
      throw new TypeError(
        `[sessionkit] [express-session] session.cookie.maxAge must be a finite number of milliseconds, got ${String(cookie.maxAge)}; nothing was written.`,
      );
    }
    return cookie.maxAge;
  }
  return ttl;
}

/**
 * The row's expiry with the core's arithmetic: the cookie's lifetime slides like an idle
 * timeout (express-session resets it on every touch), capped by `absoluteTimeout` from creation.
 */
export function recordExpiry(lifetimeMs: number, absolute: number | null, createdAt: number, now: number): number {
  const policy: ExpiryPolicy = { idle: lifetimeMs, absolute, touchInterval: 0 };
  return expiresAt(policy, createdAt, now) as number;
}
