import type { Engine } from "./engine.js";

/**
 * Keeps a user at `maxSessionsPerUser`: revokes the least recently active of the user's other
 * sessions so that, with `keepId`, at most `max` remain. Ties break by id, so two processes
 * enforcing the limit at once pick the same victims instead of evicting twice as many.
 */
export async function evictBeyondLimit(engine: Engine, userId: string, keepId: string, max: number): Promise<void> {
  const { store, events, config } = engine;
  const now = config.clock();
  const list = await engine.call("listByUser", () => store.listByUser(userId, now));
  const others = list.filter((s) => s.id !== keepId).sort((a, b) => b.lastActiveAt - a.lastActiveAt || (a.id < b.id ? -1 : 1));
  for (const victim of others.slice(Math.max(0, max - 1))) {
    if (await engine.call("delete", () => store.delete(victim.id))) {
      await engine.changed([victim.id]);
      events.emit("revoked", { id: victim.id, userId, reason: "limit" });
    }
  }
}

/**
 * Enforces the limit around a write that binds `userId`: first strictly (a failure fails the
 * commit before the new token exists, so the old cookie stays valid), then once more after
 * the write to catch logins that raced this one in other processes. The second pass cannot
 * fail the commit: its errors go to the `error` event.
 */
export function limitAround(engine: Engine, userId: string | null, keepId: string) {
  const max = engine.config.maxSessionsPerUser;
  const applies = max !== null && userId !== null;
  return {
    before: async () => {
      if (applies) await evictBeyondLimit(engine, userId, keepId, max);
    },
    after: async () => {
      if (!applies) return;
      try {
        await evictBeyondLimit(engine, userId, keepId, max);
      } catch (error) {
        engine.events.emit("error", { operation: "maxSessionsPerUser", error });
      }
    },
  };
}
