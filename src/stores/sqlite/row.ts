/** How the SQLite store maps a row to a session, tolerating rows damaged outside sessionkit. */
import type { StoredSession } from "../../contract/store.js";

/** A row as better-sqlite3 returns it: SQLite columns hold any type, so nothing is assumed. */
export interface Row {
  id: string;
  secret_hash: unknown;
  user_id: unknown;
  data: unknown;
  version: unknown;
  created_at: unknown;
  last_active_at: unknown;
  expires_at: unknown;
  ip: unknown;
  user_agent: unknown;
  meta: unknown;
}

const EMPTY = new Uint8Array(0);
const int = (v: unknown): number | undefined => (typeof v === "number" && Number.isSafeInteger(v) ? v : undefined);
const text = (v: unknown): string | null | undefined => (v === null || typeof v === "string" ? v : undefined);

/** Store data as a Buffer for the driver, without copying. */
export const blob = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * Maps a row to a session. A row damaged outside sessionkit (wrong types written by hand, a
 * broken import) is returned with empty data, an empty secret hash (which no token matches) and
 * times that are not expired, so the engine reports it as "undecodable" and gives the request a
 * fresh session instead of crashing.
 */
export function toSession(row: Row, now: number): { session: StoredSession; damaged: boolean } {
  const version = int(row.version);
  const createdAt = int(row.created_at);
  const lastActiveAt = int(row.last_active_at);
  const expiresAt = row.expires_at === null ? null : int(row.expires_at);
  const secretHash = typeof row.secret_hash === "string" ? row.secret_hash : undefined;
  const userId = text(row.user_id);
  const ip = text(row.ip);
  const userAgent = text(row.user_agent);
  const meta = text(row.meta);
  const data = Buffer.isBuffer(row.data) ? new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength) : undefined;
  if (
    version === undefined ||
    createdAt === undefined ||
    lastActiveAt === undefined ||
    expiresAt === undefined ||
    secretHash === undefined ||
    userId === undefined ||
    ip === undefined ||
    userAgent === undefined ||
    meta === undefined ||
    data === undefined
  ) {
    return {
      damaged: true,
      session: {
        id: row.id,
        secretHash: secretHash ?? "",
        userId: userId ?? null,
        data: EMPTY,
        version: version ?? 0,
        createdAt: now,
        lastActiveAt: now,
        expiresAt: null,
        ip: ip ?? null,
        userAgent: userAgent ?? null,
        meta: null,
      },
    };
  }
  return {
    damaged: false,
    session: { id: row.id, secretHash, userId, data, version, createdAt, lastActiveAt, expiresAt, ip, userAgent, meta },
  };
}
