import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { SessionConfigError } from "../../src/contract/errors.js";
import { redisStore } from "../../src/stores/redis.js";
import { record } from "../conformance/store.case.js";
import { dropRedisKeys } from "../helpers/redis-server.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { runRedisConformance, runRedisExtras } from "./redis-extras.case.js";

const { url, describe } = describeWithService("redis");

describe("redis store (standalone)", () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  });
  afterAll(async () => {
    await client.quit();
  });

  const newClient = () => new Redis(url, { maxRetriesPerRequest: 1 });
  runRedisConformance("redis", { client: () => client, newClient, prefix: "skt", heavyTimeout: 120_000 });
  runRedisExtras({ client: () => client, newClient, prefix: "skt" });

  it("gives each session a native TTL of its remaining lifetime plus the grace", async () => {
    const prefix = uniqueName("skt");
    const store = redisStore({ client, prefix, expiryGrace: "10s" });
    try {
      const r = record({ lastActiveAt: 1_000, expiresAt: 61_000 });
      await store.create(r);
      const ttl = await client.pttl(`${prefix}:s:{${r.id}}`);
      expect(ttl).toBeGreaterThan(60_000);
      expect(ttl).toBeLessThanOrEqual(70_000);
      await store.touch(r.id, r.secretHash, 2_000, null);
      expect(await client.pttl(`${prefix}:s:{${r.id}}`)).toBe(-1);
      await store.touch(r.id, r.secretHash, 3_000, 4_000);
      expect(await client.pttl(`${prefix}:s:{${r.id}}`)).toBeLessThanOrEqual(11_000);
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("with expiryGrace 0 a session already expired when written is dropped by Redis at once", async () => {
    const prefix = uniqueName("skt");
    const store = redisStore({ client, prefix, expiryGrace: 0 });
    try {
      const r = record({ lastActiveAt: 5_000, expiresAt: 5_000 });
      expect(await store.create(r)).toBe(true);
      expect(await client.exists(`${prefix}:s:{${r.id}}`)).toBe(0);
      expect((await store.stats(0, 1)).total).toBe(0);
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("keeps a user's index in one sorted set scored by expiry, trimmed of gone sessions on read", async () => {
    const prefix = uniqueName("skt");
    const store = redisStore({ client, prefix });
    try {
      const a = record({ userId: "ann", expiresAt: 5_000_000 });
      const b = record({ userId: "ann", expiresAt: null });
      await store.create(a);
      await store.create(b);
      const key = `${prefix}:u:{ann}`;
      expect(await client.zscore(key, a.id)).toBe("5000000");
      expect(await client.zscore(key, b.id)).toBe("inf");
      // The hash vanishes behind the store's back (as when Redis expires it): the entry goes on read.
      await client.del(`${prefix}:s:{${a.id}}`);
      expect((await store.listByUser("ann", 0)).map((s) => s.id)).toEqual([b.id]);
      expect(await client.zscore(key, a.id)).toBeNull();
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("pruning keeps its SCAN position across calls: a run walks the keyspace about once, not once per batch", async () => {
    const prefix = uniqueName("skt");
    const store = redisStore({ client, prefix });
    const scan = vi.spyOn(client, "scan");
    try {
      // A run with nothing to do is one walk: the SCAN steps this keyspace takes.
      expect(await store.pruneExpired(0, 10)).toBe(0);
      const walk = scan.mock.calls.length;
      for (let i = 0; i < 300; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, j) => store.create(record({ lastActiveAt: 0, expiresAt: 1_000 + i + j }))),
        );
      }
      scan.mockClear();
      const batches: number[] = [];
      for (;;) {
        const n = await store.pruneExpired(5_000, 7);
        if (n === 0) break;
        batches.push(n);
      }
      expect(batches.reduce((a, b) => a + b, 0)).toBe(300);
      expect(Math.max(...batches)).toBeLessThanOrEqual(7);
      expect(batches.length).toBeGreaterThanOrEqual(43);
      // 43 batches or more, yet about one walk (plus the steps the 300 new keys add).
      expect(scan.mock.calls.length).toBeLessThanOrEqual(2 * walk + 3);
      for (const [, , , , count] of scan.mock.calls) expect(Number(count)).toBeLessThanOrEqual(200);
      // The walk is over: the next run starts a new one and finds nothing.
      expect(await store.pruneExpired(5_000, 7)).toBe(0);
    } finally {
      scan.mockRestore();
      await dropRedisKeys(client, prefix);
    }
  });

  it("reloads its scripts after SCRIPT FLUSH (EVALSHA falls back to EVAL)", async () => {
    const prefix = uniqueName("skt");
    const store = redisStore({ client, prefix });
    try {
      await client.script("FLUSH");
      const r = record();
      expect(await store.create(r)).toBe(true);
      expect(await store.touch(r.id, r.secretHash, r.lastActiveAt + 1, r.expiresAt)).toBe(true);
    } finally {
      await dropRedisKeys(client, prefix);
    }
  });

  it("treats glob characters in the prefix literally when scanning", async () => {
    const base = uniqueName("skt");
    const star = redisStore({ client, prefix: `${base}*` });
    const other = redisStore({ client, prefix: `${base}-x` });
    try {
      await star.create(record());
      await other.create(record({ expiresAt: 10 }));
      await other.create(record());
      expect((await star.stats(0, 1)).total).toBe(1);
      expect(await star.pruneExpired(1_000, 10)).toBe(0);
      expect((await other.stats(0, 1)).total).toBe(2);
    } finally {
      await dropRedisKeys(client, `${base}\\*`);
      await dropRedisKeys(client, `${base}-x`);
    }
  });

  it("refuses a prefix with hash tag braces and a client with keyPrefix", () => {
    expect(() => redisStore({ client, prefix: "a{b}" })).toThrow(SessionConfigError);
    const prefixed = new Redis(url, { keyPrefix: "x:", lazyConnect: true });
    expect(() => redisStore({ client: prefixed })).toThrow(/keyPrefix/);
    prefixed.disconnect();
  });

  it("close() leaves the app's client open unless closeClient is set", async () => {
    await redisStore({ client }).close();
    expect(await client.ping()).toBe("PONG");
    const own = new Redis(url);
    expect(await own.ping()).toBe("PONG");
    const ended = new Promise((resolve) => own.once("end", resolve));
    await redisStore({ client: own, closeClient: true }).close();
    await ended;
    await expect(own.ping()).rejects.toThrow(/closed/);
  });
});
