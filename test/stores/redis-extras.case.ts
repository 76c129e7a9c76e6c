/**
 * The Redis store cases beyond the conformance suite that hold for a standalone server and a
 * Cluster alike, written once and run by `redis.test.ts` and `redis-cluster.test.ts` inside
 * their own `describe` (which owns the shared client). Cases only one of them can run stay in
 * that file.
 */
import type { Cluster, Redis } from "ioredis";
import { expect, it } from "vitest";
import type { SessionStore } from "../../src/contract/store.js";
import { createSessions } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis.js";
import { record, runStoreConformance } from "../conformance/store.case.js";
import { dropRedisKeys } from "../helpers/redis-server.js";
import { uniqueName } from "../helpers/services.js";

type RedisClient = Redis | Cluster;

interface RedisSuiteOptions {
  /** The suite's shared client; read when a test runs, as the suite makes it in `beforeAll`. */
  client: () => RedisClient;
  /** Start of the key prefixes (`uniqueName(prefix)`), one per test. */
  prefix: string;
}

export interface RedisConformanceOptions extends RedisSuiteOptions {
  /** Timeout for the conformance suite's heavy cases. */
  heavyTimeout: number;
}

export interface RedisExtrasOptions extends RedisSuiteOptions {
  /** A new connection of the same kind, as another app server would open; the case quits it. */
  newClient: () => RedisClient;
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
}
