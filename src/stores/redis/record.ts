import type { StoredSession, StoredSessionInfo } from "../../contract/store.js";

/** Hash fields a session is written with (absent = null); see scripts.ts for the names. */
export function hashFields(s: StoredSession): Array<string | Buffer> {
  const out: Array<string | Buffer> = [
    "h",
    s.secretHash,
    "d",
    Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength),
    "v",
    String(s.version),
    "c",
    String(s.createdAt),
    "a",
    String(s.lastActiveAt),
  ];
  if (s.userId !== null) out.push("u", s.userId);
  if (s.expiresAt !== null) out.push("e", String(s.expiresAt));
  if (s.ip !== null) out.push("ip", s.ip);
  if (s.userAgent !== null) out.push("ua", s.userAgent);
  if (s.meta !== null) out.push("m", s.meta);
  return out;
}

/**
 * The native TTL for a row: its remaining lifetime plus `grace`. The lifetime is measured
 * from `lastActiveAt` (the engine's "now" at every write) rather than from Redis's clock,
 * so app servers whose clocks drift from Redis's never cut a session short. "" = no TTL.
 */
export function ttlArg(expiresAt: number | null, lastActiveAt: number, grace: number): string {
  return expiresAt === null ? "" : String(Math.max(0, expiresAt - lastActiveAt) + grace);
}

/** The user index score: when the session expires, +inf for never. */
export function scoreArg(expiresAt: number | null): string {
  return expiresAt === null ? "+inf" : String(expiresAt);
}

const num = (b: Buffer | undefined) => (b === undefined ? null : Number(b.toString("latin1")));
const text = (b: Buffer | undefined) => (b === undefined ? null : b.toString("utf8"));

/**
 * A session from HGETALL read as buffers; null when the hash is missing, or when it has no
 * secret hash (written before sessionkit stored one: no token can match it).
 */
export function parseHash(id: string, h: Record<string, Buffer>): StoredSession | null {
  if (h.v === undefined || h.h === undefined) return null;
  const d = h.d;
  return {
    id,
    secretHash: h.h.toString("latin1"),
    userId: text(h.u),
    // A copy: the reply buffer may be a slice of a larger socket buffer.
    data: d === undefined ? new Uint8Array(0) : new Uint8Array(d),
    version: num(h.v) as number,
    createdAt: num(h.c) as number,
    lastActiveAt: num(h.a) as number,
    expiresAt: num(h.e),
    ip: text(h.ip),
    userAgent: text(h.ua),
    meta: text(h.m),
  };
}

/** A listed session from the values of INFO_FIELDS (u v c a e ip ua m; h is not listed), strings or null. */
export function parseInfo(id: string, f: ReadonlyArray<string | null | undefined>): StoredSessionInfo {
  const n = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  return {
    id,
    userId: f[0] ?? null,
    version: n(f[1]) as number,
    createdAt: n(f[2]) as number,
    lastActiveAt: n(f[3]) as number,
    expiresAt: n(f[4]),
    ip: f[5] ?? null,
    userAgent: f[6] ?? null,
    meta: f[7] ?? null,
  };
}

/** Whether a row is still valid at `now` (expiry at or before now = expired). */
export const isLive = (expiresAt: number | null, now: number) => expiresAt === null || expiresAt > now;
