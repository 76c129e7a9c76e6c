import type { StoredSessionInfo, StoreStats } from "../contract/store.js";
import { ID_PATTERN } from "../crypto/token.js";
import type { Engine } from "./engine.js";
import type { Session } from "./session.js";

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

/** A session, or its public id. */
export type SessionRef = string | Session;

const idOf = (value: SessionRef) => (typeof value === "string" ? value : value.id);

function toInfo(row: StoredSessionInfo, currentId: string | null): SessionInfo {
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
}

/** Waits for a macrotask: lets timers and I/O run between prune batches (a microtask would not). */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** list, revoke, revokeUser, prune and stats: what the CLI and a "devices" page use. */
export function createManagement(engine: Engine) {
  const { store, events, config } = engine;
  let pruning: Promise<number> | null = null;
  let closing = false;

  async function pruneAll(): Promise<number> {
    let total = 0;
    while (!closing) {
      const now = config.clock();
      const n = await engine.call("pruneExpired", () => store.pruneExpired(now, config.pruneBatchSize));
      total += n;
      if (n === 0) break;
      await yieldToEventLoop();
    }
    if (total > 0) {
      await engine.changed("all");
      events.emit("expired", { count: total });
    }
    return total;
  }

  return {
    async list(userId: string, options: { current?: SessionRef } = {}): Promise<SessionInfo[]> {
      const now = config.clock();
      const currentId = options.current === undefined ? null : idOf(options.current);
      const rows = await engine.call("listByUser", () => store.listByUser(userId, now));
      return rows.map((row) => toInfo(row, currentId)).sort((a, b) => b.lastActiveAt.getTime() - a.lastActiveAt.getTime());
    },

    async revoke(id: string): Promise<boolean> {
      if (typeof id !== "string" || !ID_PATTERN.test(id)) return false;
      const now = config.clock();
      const row = events.has("revoked") ? await engine.call("get", () => store.get(id, now)) : null;
      const deleted = await engine.call("delete", () => store.delete(id));
      if (deleted) events.emit("revoked", { id, userId: row?.userId ?? null, reason: "revoke" });
      // Published even when nothing was deleted, so retrying a revoke whose message was lost
      // still reaches the other processes' caches.
      const lost = await engine.changed([id]);
      if (lost) throw lost;
      return deleted;
    },

    async revokeUser(userId: string, options: { except?: SessionRef | SessionRef[] } = {}): Promise<number> {
      const except =
        options.except === undefined ? [] : (Array.isArray(options.except) ? options.except : [options.except]).map(idOf);
      const ids = await engine.call("deleteByUser", () => store.deleteByUser(userId, except));
      for (const id of ids) events.emit("revoked", { id, userId, reason: "revoke-user" });
      const lost = await engine.changed(ids);
      if (lost) throw lost; // deleted, but other processes' caches may not know yet: retry
      return ids.length;
    },

    /**
     * Deletes expired sessions in batches, yielding to the event loop between them so a large
     * backlog never stalls the app. One prune at a time per instance: a call while one runs
     * joins it. `close()` stops it after the batch in progress.
     */
    prune(): Promise<number> {
      pruning ??= pruneAll().finally(() => {
        pruning = null;
      });
      return pruning;
    },

    stats: (topUsers = 10): Promise<StoreStats> => engine.call("stats", () => store.stats(config.clock(), topUsers)),

    /** Stops a prune in progress (after its current batch) and waits for it. */
    async stopPruning(): Promise<void> {
      closing = true;
      await pruning?.catch(() => undefined);
    },
  };
}
