/**
 * The Redis and PostgreSQL channels' publish waits for its own echo while this process is
 * subscribed. Redis's PUBLISH reply can reach the publisher before the message reaches the
 * subscribers (seen 3 ms earlier after a failover); PostgreSQL signals every listening backend
 * at commit but each sends when it is scheduled (under load, a revoked session was served on
 * the next request in CI). A revoke that returned before the message arrived would leave "the
 * very next request" to a stale cache entry. Fake clients make the order deterministic: the
 * reply first, the message 30 ms later.
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import type { InvalidationChannel } from "../../src/contract/store.js";
import { channelNameOf, type ListenClient, postgresChannel } from "../../src/stores/postgres/channel.js";
import { redisChannel } from "../../src/stores/redis/channel.js";
import type { RedisClient } from "../../src/stores/redis/client.js";

class FakeRedisSubscriber extends EventEmitter {
  status = "ready";
  async subscribe() {
    return 1;
  }
  disconnect() {
    this.emit("close");
  }
}

class FakeListenClient extends EventEmitter {
  async connect() {}
  async query() {}
  async end() {
    this.emit("end");
  }
}

/** A channel whose published messages come back `delayMs` later (null: never), and how to send a stranger's. */
type Made = { channel: InvalidationChannel; foreign(payload: string): void };

const channels: Record<string, (delayMs: number | null) => Made> = {
  redis(delayMs) {
    const sub = new FakeRedisSubscriber();
    const client = {
      async publish(name: string, message: string) {
        if (delayMs !== null) setTimeout(() => sub.emit("message", name, message), delayMs);
        return 1;
      },
    } as unknown as RedisClient;
    const channel = redisChannel({ client, prefix: "p", subscriber: () => sub as unknown as RedisClient });
    return { channel, foreign: (payload) => sub.emit("message", "other:invalidate", payload) };
  },
  postgres(delayMs) {
    const client = new FakeListenClient();
    const channel = postgresChannel({
      qualifiedTable: '"public"."sessions"',
      async notify(name, payload) {
        if (delayMs !== null) setTimeout(() => client.emit("notification", { channel: name, payload }), delayMs);
      },
      listenClient: async () => client as unknown as ListenClient,
    });
    return {
      channel,
      foreign: (payload) => client.emit("notification", { channel: channelNameOf('"public"."other"'), payload }),
    };
  },
};

for (const [kind, make] of Object.entries(channels)) {
  describe(`${kind} channel`, () => {
    function setup(delayMs: number | null) {
      const { channel, foreign } = make(delayMs);
      const seen: string[][] = [];
      let up = false;
      const unsubscribe = channel.subscribe({
        invalidate: (ids) => seen.push([...ids]),
        invalidateAll: () => seen.push(["*"]),
        state: (state) => {
          up = state;
        },
      });
      return { channel, foreign, seen, isUp: () => up, unsubscribe };
    }
    const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

    it("a publish resolves only after this process's subscription received the message", async () => {
      const { channel, seen, isUp, unsubscribe } = setup(30);
      await settle();
      expect(isUp()).toBe(true);
      await channel.publish(["a".repeat(32)]);
      expect(seen).toEqual([["a".repeat(32)]]);
      await channel.publish("all");
      expect(seen.at(-1)).toEqual(["*"]);
      await unsubscribe();
    });

    it("a message that never comes back: the publish resolves after the half-second wait", async () => {
      const { channel, foreign, isUp, unsubscribe } = setup(null);
      await settle();
      expect(isUp()).toBe(true);
      const started = Date.now();
      const pending = channel.publish(["b".repeat(32)]);
      foreign("b".repeat(32)); // the same ids on another channel are not our echo
      await pending;
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
      expect(Date.now() - started).toBeLessThan(5000);
      await unsubscribe();
    });

    it("without a subscription up, a publish does not wait", async () => {
      const { channel, unsubscribe } = setup(null);
      await settle();
      await unsubscribe();
      const started = Date.now();
      await channel.publish(["c".repeat(32)]);
      expect(Date.now() - started).toBeLessThan(450);
    });
  });
}
