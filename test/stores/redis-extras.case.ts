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
