/**
 * The Redis store cases beyond the conformance suite that hold for a standalone server and a
 * Cluster alike, written once and run by `redis.test.ts` and `redis-cluster.test.ts` inside
 * their own `describe` (which owns the shared client). Cases only one of them can run stay in
 * that file.
 */
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import type { Cluster, Redis } from "ioredis";
import { expect, it } from "vitest";
import { SessionError, SessionStoreError } from "../../src/contract/errors.js";
import type { SessionStore } from "../../src/contract/store.js";
import { createSessions } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis.js";
import { type RawEdit, record, runStoreConformance } from "../conformance/store.case.js";
import { dropRedisKeys } from "../helpers/redis-server.js";
import { uniqueName } from "../helpers/services.js";

type RedisClient = Redis | Cluster;

interface RedisSuiteOptions {
  /** The suite's shared client; read when a test runs, as the suite makes it in `beforeAll`. */
  client: () => RedisClient;
  /** Start of the key prefixes (`uniqueName(prefix)`), one per test. */
  prefix: string;
}

interface NewClientOption {
  /** A new connection of the same kind, as another app server would open; the case quits it. */
  newClient: () => RedisClient;
}

export interface RedisConformanceOptions extends RedisSuiteOptions, NewClientOption {
  /** Timeout for the conformance suite's heavy cases. */
  heavyTimeout: number;
}

export interface RedisExtrasOptions extends RedisSuiteOptions, NewClientOption {}

/** Changes fields of a session hash with a plain HSET/HDEL, as someone with access to Redis could. */
async function editHash(client: RedisClient, key: string, change: RawEdit) {
  const fields: Array<string | Buffer> = [];
  if (change.userId !== undefined) {
    if (change.userId === null) await client.hdel(key, "u");
    else fields.push("u", change.userId);
  }
  if (change.createdAt !== undefined) fields.push("c", String(change.createdAt));
  if (change.secretHash !== undefined) fields.push("h", change.secretHash);
  if (change.data !== undefined) fields.push("d", Buffer.from(change.data));
  if (fields.length > 0) await client.hset(key, ...fields);
}

/** The conformance suite on `options.client()`, each test under its own key prefix, dropped after it. */
export function runRedisConformance(storeName: string, options: RedisConformanceOptions) {
  const prefixes = new WeakMap<SessionStore, string>();
  runStoreConformance(storeName, {
    makeStore: async () => {
      const prefix = uniqueName(options.prefix);
      const store = redisStore({ client: options.client(), prefix });
      prefixes.set(store, prefix);
      return store;
    },
    dropStore: async (store) => dropRedisKeys(options.client(), prefixes.get(store) as string),
    heavyTimeout: options.heavyTimeout,
    editRaw: (store, id, change) => editHash(options.client(), `${prefixes.get(store)}:s:{${id}}`, change),
    // The second engine's store: its own connection, as another app server would have.
    openSecond: async (store) => redisStore({ client: options.newClient(), prefix: prefixes.get(store), closeClient: true }),
  });
}

/** Retries `check` every 10 ms until it passes, for at most 2 s. */
export async function eventually(check: () => Promise<void>) {
  const deadline = Date.now() + 2_000;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Counts the client's session reads (the store's get is one HGETALL). */
export function countReads(client: RedisClient): { count: number } {
  const counter = { count: 0 };
  const target = client as unknown as { hgetallBuffer: (...args: unknown[]) => Promise<unknown> };
  const read = target.hgetallBuffer.bind(client);
  target.hgetallBuffer = (...args: unknown[]) => {
    counter.count++;
    return read(...args);
  };
  return counter;
}

/** Waits until a second load of the same session is served by the app's near-cache (its subscription is up). */
export async function cacheServesHits(
  app: { load(request: Request): Promise<unknown> },
  reads: { count: number },
  request: () => Request,
) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    await app.load(request());
    const before = reads.count;
    await app.load(request());
    if (reads.count === before) return;
    if (Date.now() > deadline) throw new Error("the near-cache never came up");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function runRedisExtras(options: RedisExtrasOptions) {
  it("user ids with hash tag braces, spaces and non-ASCII index and revoke correctly", async () => {
    const client = options.client();
    const prefix = uniqueName(options.prefix);
    const store = redisStore({ client, prefix });
    try {
      const users = ["a}b{c", "{x}", "用户 ü", "*?[glob]"];
      const rows = users.map((userId) => record({ userId }));
      for (const r of rows) expect(await store.create(r)).toBe(true);
      for (const [i, userId] of users.entries()) {
        expect((await store.listByUser(userId, 0)).map((s) => s.id)).toEqual([rows[i]?.id]);
      }
      const first = rows[0] as (typeof rows)[number];
      await store.update({ ...first, userId: "{x}", version: 2 }, 1);
      expect(await store.listByUser("a}b{c", 0)).toEqual([]);
      expect((await store.listByUser("{x}", 0)).length).toBe(2);
      expect((await store.deleteByUser("{x}")).length).toBe(2);
      expect((await store.stats(0, 5)).topUsers.map((u) => u.userId).sort()).toEqual(["*?[glob]", "用户 ü"]);
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("two app servers (own connections) share sessions: cross-read, merged writes, revoke seen by both", async () => {
    const prefix = uniqueName(options.prefix);
    const [clientA, clientB] = [options.newClient(), options.newClient()];
    const secrets = ["two-apps-secret-0123456789abcdef0123456789"];
    const appA = createSessions<Record<string, number>>({ store: redisStore({ client: clientA, prefix }), secrets });
    const appB = createSessions<Record<string, number>>({ store: redisStore({ client: clientB, prefix }), secrets });
    try {
      const s = await appA.load(new Request("http://localhost/"));
      await s.login("shared-user");
      s.set("a", 1);
      const cookie = ((await appA.commit(s)).get("set-cookie") ?? "").split(";")[0] as string;
      const request = () => new Request("http://localhost/", { headers: { cookie } });
      const [onA, onB] = [await appA.load(request()), await appB.load(request())];
      expect(onB.get("a")).toBe(1);
      onA.set("fromA", 1);
      onB.set("fromB", 2);
      await Promise.all([appA.commit(onA), appB.commit(onB)]);
      const merged = await appB.load(request());
      expect([merged.get("a"), merged.get("fromA"), merged.get("fromB")]).toEqual([1, 1, 2]);
      expect((await appB.list("shared-user")).map((x) => x.id)).toEqual([s.id]);
      await appB.revokeUser("shared-user");
      expect((await appA.load(request())).isNew).toBe(true);
    } finally {
      await appA.close();
      await appB.close();
      await dropRedisKeys(options.client(), prefix);
      await Promise.all([clientA.quit(), clientB.quit()]);
    }
  });

  it("near-cache: an update publishes its message inside its own script, only when it applied", async () => {
    const prefix = uniqueName(options.prefix);
    const client = options.client();
    const store = redisStore({ client, prefix });
    const listener = options.newClient() as Redis;
    const heard: string[] = [];
    try {
      listener.on("message", (_channel: string, message: string) => heard.push(message));
      await listener.subscribe(`${prefix}:invalidate`);
      // On a Cluster only while this process's own subscription is up (none here).
      expect(store.invalidation?.publishesOnUpdate).toBe(client.isCluster !== true);
      const r = record({ userId: "pub-user" });
      expect(await store.create(r)).toBe(true);
      expect(await store.update({ ...r, version: 2 }, 1, { publish: true })).toBe(true);
      // A refused compare-and-set (stale version) and a plain update publish nothing.
      expect(await store.update({ ...r, version: 3 }, 1, { publish: true })).toBe(false);
      expect(await store.update({ ...r, version: 3 }, 2)).toBe(true);
      expect(await store.update({ ...r, version: 4 }, 3, { publish: true })).toBe(true);
      const deadline = Date.now() + 5_000;
      while (heard.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      await new Promise((resolve) => setTimeout(resolve, 50));
      // updateMessage: the id, and the id with the version written (for the writer's write-through).
      expect(heard).toEqual([`${r.id},${r.id}@2`, `${r.id},${r.id}@4`]);
      expect((await store.get(r.id, 0))?.version).toBe(4);
      expect((await store.listByUser("pub-user", 0)).map((s) => s.id)).toEqual([r.id]);
    } finally {
      await listener.quit();
      await dropRedisKeys(client, prefix);
    }
  });

  it("near-cache: a write through one app drops the other app's entry, with no separate PUBLISH", async () => {
    const prefix = uniqueName(options.prefix);
    const [clientA, clientB, listener] = [options.newClient(), options.newClient(), options.newClient() as Redis];
    const heard: string[] = [];
    listener.on("message", (_channel: string, message: string) => heard.push(message));
    await listener.subscribe(`${prefix}:invalidate`);
    const secrets = ["near-cache-secret-0123456789abcdef01234567"];
    const cache = { maxEntries: 10, ttl: "1m" } as const;
    const appA = createSessions({ store: redisStore({ client: clientA, prefix }), secrets, cache });
    const appB = createSessions({ store: redisStore({ client: clientB, prefix }), secrets, cache });
    const reads = { a: countReads(clientA), b: countReads(clientB) };
    try {
      const s = await appA.load(new Request("http://localhost/"));
      s.set("cart", ["fig"]);
      const cookie = ((await appA.commit(s)).get("set-cookie") ?? "").split(";")[0] as string;
      const request = () => new Request("http://localhost/", { headers: { cookie } });
      // Until both subscriptions are up, writes do not wait for an echo and loads read Redis.
      await cacheServesHits(appA, reads.a, request);
      await cacheServesHits(appB, reads.b, request);
      heard.length = 0;
      for (const cart of [
        ["fig", "plum"],
        ["fig", "plum", "kiwi"],
      ]) {
        expect((await appB.load(request())).get("cart")).toEqual(cart.slice(0, -1));
        const w = await appA.load(request());
        w.set("cart", cart);
        await appA.commit(w);
        // (Both apps share this process, so B may read its socket a moment after A's echo;
        // "the very next request" is tested across processes in test/multi-server.)
        await eventually(async () => expect((await appB.load(request())).get("cart")).toEqual(cart));
      }
      await appA.revoke(s.id);
      await eventually(async () => expect((await appB.load(request())).isNew).toBe(true));
      // One message per write, from its script (the versions 2 and 3), and one for the revoke.
      await eventually(async () => expect(heard).toEqual([`${s.id},${s.id}@2`, `${s.id},${s.id}@3`, s.id]));
    } finally {
      await appA.close();
      await appB.close();
      await listener.quit();
      await dropRedisKeys(options.client(), prefix);
      await Promise.all([clientA.quit(), clientB.quit()]);
    }
  });

  it("a hash written before the secret hash existed is treated as missing, and pruning deletes it", async () => {
    const client = options.client();
    const prefix = uniqueName(options.prefix);
    const store = redisStore({ client, prefix });
    try {
      // What the previous version left: a 64-hex id (SHA-256 of the token), no `h` field.
      const oldId = randomBytes(32).toString("hex");
      const oldKey = `${prefix}:s:{${oldId}}`;
      await client.hset(oldKey, "u", "legacy", "d", "x", "v", "3", "c", "1000", "a", "2000");
      await client.zadd(`${prefix}:u:{legacy}`, "+inf", oldId);
      const current = record({ userId: "legacy", expiresAt: null });
      await store.create(current);

      expect(await store.get(oldId, 0)).toBeNull();
      expect((await store.listByUser("legacy", 0)).map((s) => s.id)).toEqual([current.id]);
      expect(await store.touch(oldId, "", 3_000, null)).toBe(false);
      expect(await store.update({ ...current, id: oldId, version: 4 }, 3)).toBe(false);
      expect((await store.stats(0, 5)).total).toBe(1);

      let pruned = 0;
      for (let n = -1; n !== 0; pruned += n) n = await store.pruneExpired(0, 10);
      expect(pruned).toBe(1);
      expect(await client.exists(oldKey)).toBe(0);
      expect(await client.zscore(`${prefix}:u:{legacy}`, oldId)).toBeNull();
      expect(await store.get(current.id, 0)).not.toBeNull();
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("store errors carry no bound values (user id, IP, user agent, meta), not even in the cause chain", async () => {
    const client = options.client();
    const prefix = uniqueName(options.prefix);
    const store = redisStore({ client, prefix });
    const secrets = ["zq7-user-0a1b", "198.51.100.77", "Distinctive-UA/9.9 (zq7)", '{"zq7":"meta-9f"}'];
    const [userId, ip, userAgent, meta] = secrets as [string, string, string, string];
    try {
      const r = record({ userId, ip, userAgent, meta });
      // A key of the wrong type makes the scripts fail on the server (WRONGTYPE): ioredis
      // attaches the command with all its arguments to such a reply error.
      await client.set(`${prefix}:s:{${r.id}}`, "not a hash");
      await client.set(`${prefix}:u:{${userId}}`, "not a sorted set");
      const failures = [
        () => store.update(r, 1),
        () => store.touch(r.id, r.secretHash, r.lastActiveAt, r.expiresAt),
        () => store.listByUser(userId, 0),
        () => store.deleteByUser(userId),
      ];
      for (const failure of failures) {
        const error = await failure().then(
          () => expect.unreachable("the store call should fail"),
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(Error);
        expect(error).not.toBeInstanceOf(SessionError); // plain: the engine wraps it once
        expect((error as Error).message).toMatch(/WRONGTYPE/);
        const shown = `${inspect(error, { depth: 10 })}\n${inspect(new SessionStoreError("redis", "update", error), { depth: 10 })}`;
        for (const value of [...secrets, r.secretHash]) expect(shown).not.toContain(value);
      }
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });
}
