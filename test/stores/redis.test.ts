import { Redis } from "ioredis";
import { afterAll, beforeAll, expect, it } from "vitest";
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

  runRedisConformance("redis", { client: () => client, prefix: "skt", heavyTimeout: 120_000 });
  runRedisExtras({ client: () => client, newClient: () => new Redis(url, { maxRetriesPerRequest: 1 }), prefix: "skt" });

  it("gives each session a native TTL of its remaining lifetime plus the grace", async () => {
    const prefix = uniqueName("skt");
    const store = redisStore({ client, prefix, expiryGrace: "10s" });
    try {
      const r = record({ lastActiveAt: 1_000, expiresAt: 61_000 });
      await store.create(r);
      const ttl = await client.pttl(`${prefix}:s:{${r.id}}`);
      expect(ttl).toBeGreaterThan(60_000);
      expect(ttl).toBeLessThanOrEqual(70_000);
      await store.touch(r.id, 2_000, null);
      expect(await client.pttl(`${prefix}:s:{${r.id}}`)).toBe(-1);
      await store.touch(r.id, 3_000, 4_000);
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

  it("reloads its scripts after SCRIPT FLUSH (EVALSHA falls back to EVAL)", async () => {
    const prefix = uniqueName("skt");
    const store = redisStore({ client, prefix });
    try {
      await client.script("FLUSH");
      const r = record();
      expect(await store.create(r)).toBe(true);
      expect(await store.touch(r.id, r.lastActiveAt + 1, r.expiresAt)).toBe(true);
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
