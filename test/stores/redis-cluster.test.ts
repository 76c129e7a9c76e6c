/**
 * The Redis store on a real 3-master Redis Cluster started on loopback ports: the whole
 * conformance suite, the ordering of cross-slot steps, and a live slot migration.
 */
import { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis.js";
import { record } from "../conformance/store.case.js";
import { type RedisCluster, startRedisCluster } from "../helpers/redis-cluster.js";
import { dropRedisKeys, redisBinariesMissing } from "../helpers/redis-server.js";
import { uniqueName } from "../helpers/services.js";
import { cacheServesHits, countReads, eventually, runRedisConformance, runRedisExtras } from "./redis-extras.case.js";

const missing = redisBinariesMissing();
if (missing) {
  const line = `SKIPPING redis cluster suites: ${missing}`;
  if (process.env.CI === "true" || process.env.CI === "1") throw new Error(`${line}; under CI this is a failure`);
  console.warn(`\n${"!".repeat(78)}\n  ${line}\n${"!".repeat(78)}\n`);
}

describe.skipIf(missing !== null)("redis store (Cluster, 3 masters)", () => {
  let cluster: RedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
    await new Promise<void>((resolve, reject) => {
      client.once("ready", resolve);
      client.once("error", reject);
    });
  }, 60_000);
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  const newClient = () => new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  runRedisConformance("redis-cluster", { client: () => client, newClient, prefix: "skc", heavyTimeout: 180_000 });
  runRedisExtras({ client: () => client, newClient, prefix: "skc" });

  it("spreads sessions over the masters, each key in its own slot", async () => {
    const prefix = uniqueName("skc");
    const store = redisStore({ client, prefix });
    try {
      const rows = Array.from({ length: 30 }, () => record({ userId: "spread" }));
      for (const r of rows) await store.create(r);
      const perNode = await Promise.all(client.nodes("master").map(async (node) => (await node.keys(`${prefix}:s:*`)).length));
      expect(perNode.filter((n) => n > 0).length).toBe(3);
      expect((await store.listByUser("spread", 0)).length).toBe(30);
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("skips an index entry whose session is missing, and trims it once its expiry has passed", async () => {
    const prefix = uniqueName("skc");
    const store = redisStore({ client, prefix });
    const key = `${prefix}:u:{crash}`;
    try {
      const live = record({ userId: "crash", expiresAt: 50_000 });
      await store.create(live);
      // What a crash after "index first" and before the session write leaves behind, and
      // what a create still in flight looks like to a reader: an entry without a session.
      const ghost = record({ userId: "crash", expiresAt: 20_000 });
      await client.zadd(key, String(ghost.expiresAt), ghost.id);
      expect((await store.listByUser("crash", 10_000)).map((s) => s.id)).toEqual([live.id]);
      expect(await client.zscore(key, ghost.id)).toBe("20000"); // may still be in flight: kept
      expect((await store.listByUser("crash", 30_000)).map((s) => s.id)).toEqual([live.id]);
      expect(await client.zscore(key, ghost.id)).toBeNull(); // past its expiry: trimmed
      expect(await store.deleteByUser("crash")).toEqual([live.id]);
      expect(await client.exists(key)).toBe(0);
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("an entry left under another user by a user change is skipped, then trimmed", async () => {
    const prefix = uniqueName("skc");
    const store = redisStore({ client, prefix });
    try {
      const r = record({ userId: "old-owner", lastActiveAt: 1_000, expiresAt: 20_000 });
      await store.create(r);
      await store.update({ ...r, userId: "new-owner", version: 2 }, 1);
      // A crash before the last step (removing the old entry) leaves it behind:
      await client.zadd(`${prefix}:u:{old-owner}`, "20000", r.id);
      expect(await store.listByUser("old-owner", 10_000)).toEqual([]);
      expect((await store.listByUser("new-owner", 10_000)).map((s) => s.id)).toEqual([r.id]);
      expect(await store.pruneExpired(10_000, 100)).toBe(0);
      expect(await store.listByUser("old-owner", 25_000)).toEqual([]);
      expect(await client.exists(`${prefix}:u:{old-owner}`)).toBe(0);
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("pruning refreshes index scores that touch left behind in another slot", async () => {
    const prefix = uniqueName("skc");
    const store = redisStore({ client, prefix });
    try {
      const r = record({ userId: "toucher", lastActiveAt: 1_000, expiresAt: 2_000 });
      await store.create(r);
      await store.touch(r.id, r.secretHash, 1_500, 9_000);
      expect(await client.zscore(`${prefix}:u:{toucher}`, r.id)).toBe("2000");
      expect(await store.pruneExpired(5_000, 100)).toBe(0);
      expect(await client.zscore(`${prefix}:u:{toucher}`, r.id)).toBe("9000");
      expect((await store.listByUser("toucher", 5_000)).map((s) => s.id)).toEqual([r.id]);
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("follows MOVED and ASK while a session's slot migrates to another master", async () => {
    const prefix = uniqueName("skc");
    const store = redisStore({ client, prefix });
    const sessions = createSessions<Record<string, number>>({
      store,
      secrets: ["cluster-migration-secret-0123456789abcdef"],
    });
    try {
      const first = await sessions.load(new Request("http://localhost/"));
      first.set("n", 1);
      await first.login("mover");
      const cookie = ((await sessions.commit(first)).get("set-cookie") ?? "").split(";")[0] as string;
      const request = () => new Request("http://localhost/", { headers: { cookie } });
      const key = `${prefix}:s:{${first.id}}`;
      const slot = Number(await client.cluster("KEYSLOT", key));

      const masters = client.nodes("master");
      const ids = await Promise.all(masters.map(async (m) => String(await m.cluster("MYID"))));
      const sourceIndex = (await Promise.all(masters.map((m) => m.cluster("COUNTKEYSINSLOT", slot)))).findIndex(
        (n) => Number(n) > 0,
      );
      const source = masters[sourceIndex] as (typeof masters)[number];
      const targetIndex = (sourceIndex + 1) % masters.length;
      const target = masters[targetIndex] as (typeof masters)[number];
      const [sourceId, targetId] = [ids[sourceIndex] as string, ids[targetIndex] as string];

      await target.cluster("SETSLOT", slot, "IMPORTING", sourceId);
      await source.cluster("SETSLOT", slot, "MIGRATING", targetId);
      // Mid-migration, key still on the source: served there.
      expect((await sessions.load(request())).get("n")).toBe(1);

      const keys = (await source.cluster("GETKEYSINSLOT", slot, 100)) as string[];
      const targetPort = target.options.port as number;
      await source.migrate("127.0.0.1", targetPort, "", 0, 5000, "KEYS", ...keys);
      // Keys moved, slot still migrating: the source answers ASK, ioredis follows it.
      const during = await sessions.load(request());
      expect(during.get("n")).toBe(1);
      during.set("n", 2);
      await sessions.commit(during);

      for (const m of masters) await m.cluster("SETSLOT", slot, "NODE", targetId);
      // Slot owned by the target: the old owner answers MOVED, ioredis follows and remaps.
      const after = await sessions.load(request());
      expect(after.isNew).toBe(false);
      expect(after.get("n")).toBe(2);
      expect((await sessions.list("mover")).map((s) => s.id)).toEqual([first.id]);
      expect(Number(await target.cluster("COUNTKEYSINSLOT", slot))).toBe(1);
    } finally {
      await sessions.close();
      await dropRedisKeys(client, prefix);
    }
  }, 30_000);

  it("near-cache: every process subscribes on the channel slot's master, after a lost connection and a reshard too", async () => {
    const prefix = uniqueName("skc");
    const channel = `${prefix}:invalidate`;
    const [clientA, clientB] = [newClient(), newClient()];
    const secrets = ["cluster-cache-secret-0123456789abcdef012345"];
    const cache = { maxEntries: 10, ttl: "1m" } as const;
    const appA = createSessions({ store: redisStore({ client: clientA, prefix }), secrets, cache });
    const appB = createSessions({ store: redisStore({ client: clientB, prefix }), secrets, cache });
    const reads = { a: countReads(clientA), b: countReads(clientB) };
    const subscribersPerMaster = () =>
      Promise.all(client.nodes("master").map(async (node) => Number(((await node.pubsub("NUMSUB", channel)) as unknown[])[1])));
    try {
      const s = await appA.load(new Request("http://localhost/"));
      s.set("n", 1);
      const cookie = ((await appA.commit(s)).get("set-cookie") ?? "").split(";")[0] as string;
      const request = () => new Request("http://localhost/", { headers: { cookie } });
      await cacheServesHits(appA, reads.a, request);
      await cacheServesHits(appB, reads.b, request);
      const slot = Number(await client.cluster("KEYSLOT", channel));
      const owner = client.slots[slot]?.[0];
      const names = client.nodes("master").map((node) => `${node.options.host}:${node.options.port}`);
      expect(await subscribersPerMaster()).toEqual(names.map((name) => (name === owner ? 2 : 0)));

      // Both subscriptions cut: the caches stop serving, then subscribe on the same master again.
      const home = client.nodes("master")[names.indexOf(owner as string)];
      if (!home) throw new Error(`no master ${owner} for the channel's slot ${slot}`);
      await home.client("KILL", "TYPE", "pubsub");
      await cacheServesHits(appA, reads.a, request);
      await cacheServesHits(appB, reads.b, request);
      expect(await subscribersPerMaster()).toEqual(names.map((name) => (name === owner ? 2 : 0)));
      // The channel's slot resharded to another master: both follow it once their clients'
      // slot maps refresh (here at once; by default within ioredis's 5 s slotsRefreshInterval).
      expect(Number(await home.cluster("COUNTKEYSINSLOT", slot))).toBe(0);
      const nextIndex = (names.indexOf(owner as string) + 1) % names.length;
      const next = client.nodes("master")[nextIndex];
      if (!next) throw new Error("no other master");
      const nextId = String(await next.cluster("MYID"));
      for (const m of client.nodes("master")) await m.cluster("SETSLOT", slot, "NODE", nextId);
      for (const c of [client, clientA, clientB]) await new Promise((resolve) => c.refreshSlotsCache(resolve));
      await eventually(async () => expect(await subscribersPerMaster()).toEqual(names.map((_, i) => (i === nextIndex ? 2 : 0))));
      await cacheServesHits(appA, reads.a, request);
      await cacheServesHits(appB, reads.b, request);

      // And the channel works again: a revoke through one reaches the other's cache.
      expect((await appB.load(request())).get("n")).toBe(1);
      await appA.revoke(s.id);
      await eventually(async () => expect((await appB.load(request())).isNew).toBe(true));
    } finally {
      await appA.close();
      await appB.close();
      await dropRedisKeys(client, prefix);
      await Promise.all([clientA.quit(), clientB.quit()]);
    }
  }, 30_000);
});
