import type { SessionStore, StoredSession, StoredSessionInfo, StoreStats } from "../contract/store.js";
import { localChannel } from "./local-channel.js";

/** Options for {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most sessions kept. Beyond it the least recently used session is dropped, which signs
   * that user out: size it above your peak of live sessions, or use a database store.
   * @default 10000
   */
  maxEntries?: number;
}

/** Spelled out: object spread takes a slow generic path, and every read copies a row. */
const copy = (s: StoredSession): StoredSession => ({
  id: s.id,
  secretHash: s.secretHash,
  userId: s.userId,
  data: s.data.slice(),
  version: s.version,
  createdAt: s.createdAt,
  lastActiveAt: s.lastActiveAt,
  expiresAt: s.expiresAt,
  ip: s.ip,
  userAgent: s.userAgent,
  meta: s.meta,
});
const info = ({ data: _data, secretHash: _hash, ...rest }: StoredSession): StoredSessionInfo => rest;
const isLive = (s: StoredSession, now: number) => s.expiresAt === null || s.expiresAt > now;

/**
 * An in-process store for tests, prototypes and single-process apps whose sessions may be
 * lost on restart. Bounded, least-recently-used eviction, no timers (expired entries are
 * never returned and are dropped by `prune()` or when the bound is reached).
 *
 * @example
 * ```ts
 * import { createSessions } from "sessionkit";
 * import { memoryStore } from "sessionkit/memory";
 * const sessions = createSessions({ store: memoryStore(), secrets: [secret] });
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): SessionStore {
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError(`[sessionkit] [memory] maxEntries must be a positive integer, got ${maxEntries}`);
  }
  // Map keeps insertion order; re-inserting on access makes the first key the least recently used.
  const rows = new Map<string, StoredSession>();
  const byUser = new Map<string, Set<string>>();

  const index = (s: StoredSession) => {
    if (s.userId === null) return;
    let ids = byUser.get(s.userId);
    if (!ids) {
      ids = new Set();
      byUser.set(s.userId, ids);
    }
    ids.add(s.id);
  };
  const unindex = (s: StoredSession) => {
    if (s.userId === null) return;
    const ids = byUser.get(s.userId);
    ids?.delete(s.id);
    if (ids?.size === 0) byUser.delete(s.userId);
  };
  const remove = (id: string) => {
    const row = rows.get(id);
    if (!row) return false;
    rows.delete(id);
    unindex(row);
    return true;
  };
  const put = (s: StoredSession) => {
    const old = rows.get(s.id);
    if (old) remove(s.id);
    rows.set(s.id, copy(s));
    index(s);
    while (rows.size > maxEntries) {
      const oldest = rows.keys().next().value as string;
      remove(oldest);
    }
  };
  const live = (id: string, now: number) => {
    const row = rows.get(id);
    return row && isLive(row, now) ? row : undefined;
  };

  return {
    name: "memory",
    // In-process: every createSessions({ cache }) on this store object hears every write.
    invalidation: localChannel(),
    async get(id, now) {
      const row = live(id, now);
      if (!row) return null;
      rows.delete(id);
      rows.set(id, row);
      return copy(row);
    },
    async create(session) {
      if (rows.has(session.id)) return false;
      put(session);
      return true;
    },
    async update(session, expectedVersion) {
      const row = rows.get(session.id);
      if (!row || row.version !== expectedVersion) return false;
      put(session);
      return true;
    },
    async touch(id, secretHash, lastActiveAt, expiresAt) {
      const row = rows.get(id);
      if (!row || row.secretHash !== secretHash) return false;
      row.lastActiveAt = lastActiveAt;
      row.expiresAt = expiresAt;
      return true;
    },
    async delete(id) {
      return remove(id);
    },
    async listByUser(userId, now) {
      const ids = byUser.get(userId) ?? new Set<string>();
      const out: StoredSessionInfo[] = [];
      for (const id of ids) {
        const row = live(id, now);
        if (row) out.push(info(row));
      }
      return out;
    },
    async deleteByUser(userId, except = []) {
      const ids = [...(byUser.get(userId) ?? [])].filter((id) => !except.includes(id));
      for (const id of ids) remove(id);
      return ids;
    },
    async pruneExpired(now, limit) {
      let deleted = 0;
      for (const [id, row] of rows) {
        if (deleted >= limit) break;
        if (!isLive(row, now)) {
          remove(id);
          deleted++;
        }
      }
      return deleted;
    },
    async stats(now, topUsers): Promise<StoreStats> {
      let active = 0;
      const perUser = new Map<string, number>();
      for (const row of rows.values()) {
        if (!isLive(row, now)) continue;
        active++;
        if (row.userId !== null) perUser.set(row.userId, (perUser.get(row.userId) ?? 0) + 1);
      }
      const top = [...perUser]
        .map(([userId, count]) => ({ userId, count }))
        .sort((a, b) => b.count - a.count || a.userId.localeCompare(b.userId))
        .slice(0, topUsers);
      return { total: rows.size, active, expired: rows.size - active, topUsers: top };
    },
    async close() {
      rows.clear();
      byUser.clear();
    },
  };
}
