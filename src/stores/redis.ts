import type { Cluster, Redis } from "ioredis";
import { type Duration, parseDuration } from "../contract/duration.js";
import { SessionConfigError } from "../contract/errors.js";
import {
  type SessionStore,
  type StoredSession,
  type StoredSessionInfo,
  type StoreStats,
  updateMessage,
} from "../contract/store.js";
import { echoWait } from "./echo-wait.js";
import { redisChannel, redisChannelName } from "./redis/channel.js";
import {
  clientKeyPrefix,
  globEscape,
  isCluster,
  type RedisClient,
  runScript,
  scanCursor,
  scanKeys,
  scrubError,
} from "./redis/client.js";
import { hashFields, isLive, parseHash, parseInfo, scoreArg, ttlArg } from "./redis/record.js";
import { CREATE, DELETE, DELETE_USER, INFO_FIELDS, LIST, PRUNE_ONE, TOUCH, UPDATE, UPDATE_PUBLISH } from "./redis/scripts.js";

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
  /**
   * Makes the near-cache's subscription connection (one per cache; the store disconnects it
   * when the cache stops). Default: `client.duplicate()`, and on a Cluster a connection to the
   * master serving the channel's slot. Give one when commands go through a proxy that has no
   * pub/sub: connect it to Redis directly.
   */
  subscriber?: () => Redis | Cluster;
}

/**
 * A script's reply: 0 when it changed nothing, else `{counted, previous user}`. `counted` is 0
 * when DELETE removed an old-format hash, which is no session to report but was still indexed.
 */
type Outcome = { removed: false; ok: false } | { removed: true; ok: boolean; userId: string | null };
const outcome = (reply: unknown): Outcome =>
  Array.isArray(reply)
    ? { removed: true, ok: reply[0] === 1, userId: (reply[1] as string | null | undefined) ?? null }
    : { removed: false, ok: false };

/** SCAN COUNT per pruning step: each step is short for Redis, however large the keyspace. */
const PRUNE_SCAN_COUNT = 200;
/** Keys checked together within a pruning step (one burst of pipelined commands). */
const PRUNE_CHUNK = 100;
/** A call that has deleted something returns after about this long, even below `limit`. */
const PRUNE_CALL_BUDGET_MS = 50;
/**
 * After a walk finished in a call that deleted something, the next call reports 0 (nothing
 * left in that walk) if it comes within this long. A later call starts a new walk instead, so
 * a caller that stopped early is not answered 0 by a stale walk at its next run.
 */
const PRUNE_FINISH_WINDOW_MS = 10_000;

/** The strings a call was given (user ids, IPs, user agents...), to mask in its errors. */
function boundStrings(args: readonly unknown[]): string[] {
  const out: string[] = [];
  const visit = (v: unknown) => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object" && !(v instanceof Uint8Array)) Object.values(v).forEach(visit);
  };
  args.forEach(visit);
  return out;
}

/** The store with every method's errors scrubbed of the values it was called with. */
function scrubbed(store: SessionStore): SessionStore {
  const out: Record<string, unknown> = { ...store };
  for (const [key, value] of Object.entries(store)) {
    if (typeof value !== "function") continue;
    const method = value as (...args: unknown[]) => Promise<unknown>;
    out[key] = async (...args: unknown[]) => {
      try {
        return await method(...args);
      } catch (error) {
        throw scrubError(error, boundStrings(args));
      }
    };
  }
  return out as unknown as SessionStore;
}

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
 * list. Login and rotation are an ordinary compare-and-set update of the same key (a new
 * secret hash), so a delete or revoke always acts on the key a rotation is changing, and
 * wins: every write script checks that the hash still exists.
 *
 * Errors are plain `Error`s with only the client error's name and message: ioredis attaches
 * every command argument to its errors, and those never leave the store.
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
  const channelName = redisChannelName(prefix);
  // Shared by the channel's publish and the publishing update: both wait for their own echo.
  const echo = echoWait();

  const sessionHead = `${prefix}:s:{`;
  const userHead = `${prefix}:u:{`;
  const sessionKey = (id: string) => `${sessionHead}${id}}`;
  const userKey = (userId: string) => `${userHead}${userId}}`;
  const sessionPattern = `${globEscape(prefix)}:s:{*}`;
  // Pruning walks both kinds of key in one SCAN: sessions to delete, user indexes to tidy.
  const prunePattern = `${globEscape(prefix)}:[su]:{*}`;
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
      } else if (f[8] !== null && f[8] !== undefined) {
        // (without a secret hash it is an old-format hash: skipped; pruning deletes it and its entry)
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
    const removed = targets.filter((_, i) => outcome(replies[i]).removed);
    // Sessions first, then their entries: a crash in between leaves only stale entries.
    // Entries of missing sessions stay for listByUser and prune (they may be in flight).
    if (removed.length > 0) await redis.zrem(key, ...removed);
    return targets.filter((_, i) => outcome(replies[i]).ok);
  }

  /**
   * Removes the entries of one user index whose session is gone, someone else's or of the old
   * format, and raises scores that a Cluster touch left behind. Only entries whose score has
   * passed are looked at: a write still in flight for one of them would be writing an expired row.
   */
  async function tidyIndex(key: string, now: number) {
    const userId = userOf(key);
    const ids = await redis.zrangebyscore(key, "-inf", String(now));
    if (ids.length === 0) return;
    const rows = await Promise.all(ids.map((id) => redis.hmget(sessionKey(id), "u", "e", "h")));
    const stale: string[] = [];
    const rescore: string[] = [];
    ids.forEach((id, i) => {
      const [u, e, h] = rows[i] ?? [];
      if (u !== userId || h === null || h === undefined) stale.push(id);
      else if (e === null || e === undefined || Number(e) > now) rescore.push(e ?? "+inf", id);
    });
    if (stale.length > 0) await redis.zrem(key, ...stale);
    if (rescore.length > 0) await redis.zadd(key, "XX", "GT", ...rescore);
  }

  /** Deletes the due sessions among `keys` (expired at `now`, or old-format); returns how many. */
  async function pruneSessions(keys: string[], now: number): Promise<number> {
    const rows = await Promise.all(keys.map((key) => redis.hmget(key, "e", "h", "v")));
    const due = keys.filter((_, i) => {
      const [e, h, v] = rows[i] ?? [];
      if (v === null || v === undefined) return false; // gone since the scan saw it
      return h === null || h === undefined || (e !== null && e !== undefined && !isLive(Number(e), now));
    });
    // The script checks again atomically: a session touched since the read above stays.
    const replies = await Promise.all(
      due.map((key) => runScript(redis, PRUNE_ONE, [key], [idx, prefix, idOf(key), String(now)])),
    );
    let deleted = 0;
    await Promise.all(
      replies.map((reply, i) => {
        const result = outcome(reply);
        if (!result.removed) return undefined;
        deleted++;
        return unindexAfter(result.userId, idOf(due[i] as string));
      }),
    );
    return deleted;
  }

  // Pruning state, kept across calls: one SCAN walk spread over as many calls as it takes.
  // `pending` holds the keys of the last SCAN step not handled yet (a call stopped at its
  // limit); `finishedAt` marks a walk that ended in a call which still had deletions to report.
  const walk = scanCursor(redis, prunePattern, PRUNE_SCAN_COUNT);
  let pending: string[] = [];
  let finishedAt: number | null = null;
  let pruning: Promise<unknown> = Promise.resolve();

  async function pruneStep(now: number, limit: number): Promise<number> {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`limit must be a positive integer, got ${limit}`);
    if (finishedAt !== null) {
      const recent = Date.now() - finishedAt < PRUNE_FINISH_WINDOW_MS;
      finishedAt = null;
      walk.reset();
      pending = [];
      if (recent) return 0;
    }
    const started = Date.now();
    let deleted = 0;
    for (;;) {
      if (pending.length === 0) {
        const keys = await walk.step();
        if (keys === null) {
          // The walk is complete. If this call deleted nothing, nothing is left to do: report 0
          // and start afresh next time. Otherwise report the count now and 0 on the next call.
          walk.reset();
          if (deleted > 0) finishedAt = Date.now();
          return deleted;
        }
        pending = keys;
        continue;
      }
      // At most `limit - deleted` keys per chunk, so a call never deletes more than `limit`.
      const chunk = pending.slice(0, Math.min(PRUNE_CHUNK, limit - deleted));
      const sessions = chunk.filter((key) => key.startsWith(sessionHead));
      const indexes = chunk.filter((key) => key.startsWith(userHead));
      const [n] = await Promise.all([pruneSessions(sessions, now), ...indexes.map((key) => tidyIndex(key, now))]);
      deleted += n as number;
      // Dropped only once handled: after a failure the next call redoes the chunk (harmless).
      pending = pending.slice(chunk.length);
      if (deleted >= limit || (deleted > 0 && Date.now() - started >= PRUNE_CALL_BUDGET_MS)) return deleted;
    }
  }

  // The near-cache's channel (createSessions({ cache })): pub/sub, subscribed only when a cache is on.
  const invalidation = redisChannel({ client, prefix, echo, ...(options.subscriber ? { subscriber: options.subscriber } : {}) });
  // Updates publish inside their own script (UPDATE_PUBLISH): no separate PUBLISH per write.
  // On a Cluster only while this process's own subscription is up, so the write waits for its
  // echo: the script's node replies before the message has crossed the bus to the subscribers'
  // node. Otherwise the engine publishes after the write, on that node (see redisChannel).
  Object.defineProperty(invalidation, "publishesOnUpdate", { get: () => !cluster || echo.subscribed, enumerable: true });

  return scrubbed({
    name: "redis",
    invalidation,

    async get(id, now) {
      const row = parseHash(id, await redis.hgetallBuffer(sessionKey(id)));
      return row && isLive(row.expiresAt, now) ? row : null;
    },

    async create(session) {
      await indexFirst(session);
      const reply = await runScript(redis, CREATE, [sessionKey(session.id)], [...head(session), ...hashFields(session)]);
      return reply === 1;
    },

    async update(session, expectedVersion, options) {
      await indexFirst(session);
      const keys = [sessionKey(session.id)];
      let reply: unknown;
      if (options?.publish) {
        // Like a publish: resolves once this process's own subscription got the message back.
        const message = updateMessage(session.id, session.version).join(",");
        await echo.publish(message, async () => {
          const args = [...head(session), String(expectedVersion), channelName, message, ...hashFields(session)];
          reply = await runScript(redis, UPDATE_PUBLISH, keys, args);
          return outcome(reply).ok;
        });
      } else {
        reply = await runScript(redis, UPDATE, keys, [...head(session), String(expectedVersion), ...hashFields(session)]);
      }
      const result = outcome(reply);
      if (!result.ok) return false;
      if (result.userId !== session.userId) await unindexAfter(result.userId, session.id);
      return true;
    },

    async touch(id, secretHash, lastActiveAt, expiresAt) {
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
          secretHash,
          String(lastActiveAt),
          expiresAt === null ? "" : String(expiresAt),
        ],
      );
      return reply === 1;
    },

    async delete(id) {
      const result = outcome(await runScript(redis, DELETE, [sessionKey(id)], [idx, prefix, id, ""]));
      if (result.removed) await unindexAfter(result.userId, id);
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

    pruneExpired(now, limit) {
      // One call at a time per store: calls share the walk's position.
      const run = pruning.then(() => pruneStep(now, limit));
      pruning = run.catch(() => undefined);
      return run;
    },

    async stats(now, topUsers): Promise<StoreStats> {
      let total = 0;
      let active = 0;
      const perUser = new Map<string, number>();
      for await (const keys of scanKeys(redis, sessionPattern)) {
        const rows = await Promise.all(keys.map((key) => redis.hmget(key, "v", "e", "u", "h")));
        for (const [v, e, u, h] of rows) {
          if (v === null || v === undefined) continue; // expired or deleted since the scan saw it
          if (h === null || h === undefined) continue; // old format: no session (pruning deletes it)
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
  });
}
