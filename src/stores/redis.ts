import type { Cluster, Redis } from "ioredis";
import { type Duration, parseDuration } from "../contract/duration.js";
import { SessionConfigError } from "../contract/errors.js";
import type { SessionStore, StoredSession, StoredSessionInfo, StoreStats } from "../contract/store.js";
import { clientKeyPrefix, globEscape, isCluster, type RedisClient, runScript, scanKeys } from "./redis/client.js";
import { hashFields, isLive, parseHash, parseInfo, scoreArg, ttlArg } from "./redis/record.js";
import { CAS_DELETE, CREATE, DELETE, DELETE_USER, INFO_FIELDS, LIST, PRUNE_ONE, ROTATE, TOUCH, UPDATE } from "./redis/scripts.js";

/** Options for {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * An ioredis client the app created: `new Redis(url)` or `new Redis.Cluster(nodes)`. The store
   * never quits it (unless `closeClient`), so the app can share it. It must not use
   * ioredis's `keyPrefix` option: use `prefix` instead.
   */
  client: Redis | Cluster;
  /**
   * Start of every key, e.g. `sessionkit:s:{<id>}` for a session and `sessionkit:u:{<user>}`
   * for a user's index. Lets several apps share one Redis. No `{` or `}`.
   * @default "sessionkit"
   */
  prefix?: string;
  /**
   * How long Redis keeps a session after it expired before dropping it natively. Expired
   * sessions are never returned either way; the grace lets `stats()` and `prune()` see
   * them, and absorbs the rounding of TTLs.
   * @default "1m"
   */
  expiryGrace?: Duration;
  /**
   * Quit the client in `close()`. Only for a client made for this store alone (the CLI does
   * this); an app's shared client stays open.
   * @default false
   */
  closeClient?: boolean;
}

type Outcome = { ok: false } | { ok: true; userId: string | null };
const outcome = (reply: unknown): Outcome =>
  Array.isArray(reply) ? { ok: true, userId: (reply[1] as string | null | undefined) ?? null } : { ok: false };

/**
 * A Redis store on ioredis, standalone or Cluster. A session is one hash whose native TTL is
 * its remaining lifetime (plus `expiryGrace`), so Redis expires it; a sorted set per user
 * (score = expiry) lists and revokes that user's sessions. Every write is a Lua script
 * (EVALSHA, falling back to EVAL once per server).
 *
 * In Cluster a script may only touch one slot, so operations that change both a session and
 * a user index run as ordered steps: the user index gains an entry before the session is
 * written and loses it after the session is gone. A crash in between leaves at worst a stale
 * index entry (skipped and trimmed on read), never a live session missing from its user's
 * list. Rotation deletes the old id before creating the new one: a crash in between signs the
 * user out, it never leaves both alive.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { createSessions } from "sessionkit";
 * import { redisStore } from "sessionkit/redis";
 *
 * const client = new Redis(process.env.REDIS_URL, { maxRetriesPerRequest: 1 });
 * const sessions = createSessions({ store: redisStore({ client }), secrets: [secret] });
 * // Cluster: redisStore({ client: new Redis.Cluster([{ host: "10.0.0.1", port: 6379 }]) })
 * ```
 */
export function redisStore(options: RedisStoreOptions): SessionStore {
  const { client, closeClient = false } = options;
  const prefix = options.prefix ?? "sessionkit";
  if (!client || typeof (client as { isCluster?: unknown }).isCluster !== "boolean") {
    throw new SessionConfigError("[sessionkit] [redis] client must be an ioredis Redis or Cluster instance");
  }
  if (typeof prefix !== "string" || prefix === "" || /[{}]/.test(prefix)) {
    throw new SessionConfigError(
      `[sessionkit] [redis] prefix must be a non-empty string without "{" or "}" (they pick Cluster slots), got ${JSON.stringify(prefix)}`,
    );
  }
  if (clientKeyPrefix(client)) {
    throw new SessionConfigError(
      "[sessionkit] [redis] the client has ioredis's keyPrefix option set, which Lua scripts cannot see; remove it and pass redisStore({ prefix }) instead",
    );
  }
  const grace = parseDuration(options.expiryGrace ?? "1m", "expiryGrace") as number;
  const redis: RedisClient = client;
  const cluster = isCluster(redis);
  // In standalone every script keeps the user index itself ("1"); in Cluster the store does.
  const idx = cluster ? "0" : "1";

  const sessionHead = `${prefix}:s:{`;
  const userHead = `${prefix}:u:{`;
  const sessionKey = (id: string) => `${sessionHead}${id}}`;
  const userKey = (userId: string) => `${userHead}${userId}}`;
  const sessionPattern = `${globEscape(prefix)}:s:{*}`;
  const userPattern = `${globEscape(prefix)}:u:{*}`;
  const idOf = (key: string) => key.slice(sessionHead.length, -1);
  const userOf = (key: string) => key.slice(userHead.length, -1);

  const head = (s: StoredSession) => [idx, prefix, s.id, ttlArg(s.expiresAt, s.lastActiveAt, grace), scoreArg(s.expiresAt)];

  /** Cluster: index first, so a live session is never missing from its user's list. */
  const indexFirst = async (s: StoredSession) => {
    if (cluster && s.userId !== null) await redis.zadd(userKey(s.userId), "GT", scoreArg(s.expiresAt), s.id);
  };
  /** Cluster: drop an index entry after its session is gone or moved to another user. */
  const unindexAfter = async (userId: string | null, id: string) => {
    if (cluster && userId !== null) await redis.zrem(userKey(userId), id);
  };

  /** A user's index entries with their scores (expiry, or Infinity). */
  async function entries(key: string): Promise<Array<{ id: string; score: number }>> {
    const flat = await redis.zrange(key, 0, -1, "WITHSCORES");
    const out: Array<{ id: string; score: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const raw = flat[i + 1] as string;
      out.push({ id: flat[i] as string, score: raw === "inf" || raw === "+inf" ? Number.POSITIVE_INFINITY : Number(raw) });
    }
    return out;
  }

  // Cluster steps are not atomic together: an entry whose session is missing or someone
  // else's may be a create or a user change still in flight (index first, session second).
  // Such entries are skipped, and only trimmed once their score (the expiry they were
  // written with) has passed, when no write can still be on its way.

  async function listCluster(userId: string, now: number): Promise<StoredSessionInfo[]> {
    const key = userKey(userId);
    const list = await entries(key);
    const rows = await Promise.all(list.map(({ id }) => redis.hmget(sessionKey(id), ...INFO_FIELDS)));
    const out: StoredSessionInfo[] = [];
    const stale: string[] = [];
    list.forEach(({ id, score }, i) => {
      const f = rows[i] ?? [];
      if (f[0] !== userId) {
        if (score <= now) stale.push(id);
      } else {
        const info = parseInfo(id, f);
        if (isLive(info.expiresAt, now)) out.push(info);
      }
    });
    if (stale.length > 0) await redis.zrem(key, ...stale);
    return out;
  }

  async function deleteUserCluster(userId: string, except: readonly string[]): Promise<string[]> {
    const key = userKey(userId);
    const targets = (await redis.zrange(key, 0, -1)).filter((id) => !except.includes(id));
    const replies = await Promise.all(targets.map((id) => runScript(redis, DELETE, [sessionKey(id)], [idx, prefix, id, userId])));
    const deleted = targets.filter((_, i) => outcome(replies[i]).ok);
    // Sessions first, then their entries: a crash in between leaves only stale entries.
    // Entries of missing sessions stay for listByUser and prune (they may be in flight).
    if (deleted.length > 0) await redis.zrem(key, ...deleted);
    return deleted;
  }

  /** Removes index entries whose session is gone or someone else's; raises stale scores. */
  async function tidyIndexes(now: number) {
    for await (const keys of scanKeys(redis, userPattern, 200)) {
      await Promise.all(
        keys.map(async (key) => {
          const userId = userOf(key);
          const ids = await redis.zrangebyscore(key, "-inf", String(now));
          if (ids.length === 0) return;
          const rows = await Promise.all(ids.map((id) => redis.hmget(sessionKey(id), "u", "e")));
          const stale: string[] = [];
          const rescore: string[] = [];
          ids.forEach((id, i) => {
            const [u, e] = rows[i] ?? [];
            if (u !== userId) stale.push(id);
            else if (e === null || e === undefined || Number(e) > now) rescore.push(e ?? "+inf", id);
          });
          if (stale.length > 0) await redis.zrem(key, ...stale);
          if (rescore.length > 0) await redis.zadd(key, "XX", "GT", ...rescore);
        }),
      );
    }
  }

  return {
    name: "redis",

    async get(id, now) {
      const row = parseHash(id, await redis.hgetallBuffer(sessionKey(id)));
      return row && isLive(row.expiresAt, now) ? row : null;
    },

    async create(session) {
      await indexFirst(session);
      const reply = await runScript(redis, CREATE, [sessionKey(session.id)], [...head(session), ...hashFields(session)]);
      return reply === 1;
    },

    async update(session, expectedVersion) {
      await indexFirst(session);
      const result = outcome(
        await runScript(
          redis,
          UPDATE,
          [sessionKey(session.id)],
          [...head(session), String(expectedVersion), ...hashFields(session)],
        ),
      );
      if (!result.ok) return false;
      if (result.userId !== session.userId) await unindexAfter(result.userId, session.id);
      return true;
    },

    async rotate(oldId, expectedVersion, session) {
      if (!cluster) {
        const reply = await runScript(
          redis,
          ROTATE,
          [sessionKey(oldId), sessionKey(session.id)],
          [...head(session), String(expectedVersion), oldId, ...hashFields(session)],
        );
        return outcome(reply).ok;
      }
      // Cluster: new index entry, then compare-and-set delete of the old row, then the new
      // row, then the old entry. Old before new: a crash in between signs the user out.
      await indexFirst(session);
      const removed = outcome(
        await runScript(redis, CAS_DELETE, [sessionKey(oldId)], [idx, prefix, oldId, String(expectedVersion)]),
      );
      if (!removed.ok) return false;
      const created = await runScript(redis, CREATE, [sessionKey(session.id)], [...head(session), ...hashFields(session)]);
      await unindexAfter(removed.userId, oldId);
      return created === 1;
    },

    async touch(id, lastActiveAt, expiresAt) {
      // In Cluster the index score is not raised here (another slot, another round trip);
      // scores are hints that reads check against the hash, and pruning refreshes them.
      const reply = await runScript(
        redis,
        TOUCH,
        [sessionKey(id)],
        [
          idx,
          prefix,
          id,
          ttlArg(expiresAt, lastActiveAt, grace),
          scoreArg(expiresAt),
          String(lastActiveAt),
          expiresAt === null ? "" : String(expiresAt),
        ],
      );
      return reply === 1;
    },

    async delete(id) {
      const result = outcome(await runScript(redis, DELETE, [sessionKey(id)], [idx, prefix, id, ""]));
      if (result.ok) await unindexAfter(result.userId, id);
      return result.ok;
    },

    async listByUser(userId, now) {
      if (cluster) return listCluster(userId, now);
      const rows = (await runScript(redis, LIST, [userKey(userId)], [idx, prefix, userId, String(now)])) as Array<
        Array<string | null>
      >;
      return rows.map(([id, ...f]) => parseInfo(id as string, f));
    },

    async deleteByUser(userId, except = []) {
      if (cluster) return deleteUserCluster(userId, except);
      return (await runScript(redis, DELETE_USER, [userKey(userId)], [idx, prefix, userId, ...except])) as string[];
    },

    async pruneExpired(now, limit) {
      let deleted = 0;
      for await (const keys of scanKeys(redis, sessionPattern)) {
        const expiries = await Promise.all(keys.map((key) => redis.hget(key, "e")));
        const due = keys.filter((_, i) => {
          const e = expiries[i];
          return e !== null && e !== undefined && !isLive(Number(e), now);
        });
        // Never more than `limit` per call; the script checks the expiry again atomically.
        const batch = due.slice(0, limit - deleted);
        const replies = await Promise.all(
          batch.map((key) => runScript(redis, PRUNE_ONE, [key], [idx, prefix, idOf(key), String(now)])),
        );
        await Promise.all(
          replies.map((reply, i) => {
            const result = outcome(reply);
            if (!result.ok) return undefined;
            deleted++;
            return unindexAfter(result.userId, idOf(batch[i] as string));
          }),
        );
        if (deleted >= limit) return deleted;
      }
      // The last batch of a run: tidy the user indexes (entries of sessions Redis expired).
      await tidyIndexes(now);
      return deleted;
    },

    async stats(now, topUsers): Promise<StoreStats> {
      let total = 0;
      let active = 0;
      const perUser = new Map<string, number>();
      for await (const keys of scanKeys(redis, sessionPattern)) {
        const rows = await Promise.all(keys.map((key) => redis.hmget(key, "v", "e", "u")));
        for (const [v, e, u] of rows) {
          if (v === null || v === undefined) continue; // expired or deleted since the scan saw it
          total++;
          if (!isLive(e === null || e === undefined ? null : Number(e), now)) continue;
          active++;
          if (u !== null && u !== undefined) perUser.set(u, (perUser.get(u) ?? 0) + 1);
        }
      }
      const top = [...perUser]
        .map(([userId, count]) => ({ userId, count }))
        .sort((a, b) => b.count - a.count || a.userId.localeCompare(b.userId))
        .slice(0, topUsers);
      return { total, active, expired: total - active, topUsers: top };
    },

    async close() {
      if (closeClient) await redis.quit();
    },
  };
}
