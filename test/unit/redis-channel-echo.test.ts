/**
 * The Redis channel's publish waits for its own echo while this process is subscribed:
 * Redis's PUBLISH reply can reach the publisher before the message reaches the subscribers,
 * and a revoke that returned before the message arrived would leave "the very next request"
 * to a stale cache entry. A fake client makes the order deterministic: the reply first, the
 * message 30 ms later.
 */
import { EventEmitter } from "node:events";
import { expect, it } from "vitest";
import { redisChannel } from "../../src/stores/redis/channel.js";
import type { RedisClient } from "../../src/stores/redis/client.js";

class FakeSubscriber extends EventEmitter {
  status = "ready";
  async subscribe() {
    return 1;
  }
  disconnect() {
    this.emit("close");
  }
}

function setup(delayMs: number | null) {
  const sub = new FakeSubscriber();
  const client = {
    async publish(channel: string, message: string) {
      if (delayMs !== null) setTimeout(() => sub.emit("message", channel, message), delayMs);
      return 1;
    },
  } as unknown as RedisClient;
  const channel = redisChannel({ client, prefix: "p", subscriber: () => sub as unknown as RedisClient });
  const seen: string[][] = [];
  let up = false;
  const unsubscribe = channel.subscribe({
    invalidate: (ids) => seen.push([...ids]),
    invalidateAll: () => seen.push(["*"]),
    state: (state) => {
      up = state;
    },
  });
  return { channel, seen, isUp: () => up, unsubscribe };
}

it("a publish resolves only after this process's subscription received the message", async () => {
  const { channel, seen, isUp, unsubscribe } = setup(30);
  await new Promise((resolve) => setImmediate(resolve));
  expect(isUp()).toBe(true);
  await channel.publish(["a".repeat(32)]);
  expect(seen).toEqual([["a".repeat(32)]]);
  await channel.publish("all");
  expect(seen.at(-1)).toEqual(["*"]);
  await unsubscribe();
});

it("a message that never comes back: the publish resolves after the half-second wait", async () => {
  const { channel, isUp, unsubscribe } = setup(null);
  await new Promise((resolve) => setImmediate(resolve));
  expect(isUp()).toBe(true);
  const started = Date.now();
  await channel.publish(["b".repeat(32)]);
  expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  expect(Date.now() - started).toBeLessThan(5000);
  await unsubscribe();
});

it("without a subscription up, a publish does not wait", async () => {
  const { channel, unsubscribe } = setup(null);
  await unsubscribe();
  const started = Date.now();
  await channel.publish(["c".repeat(32)]);
  expect(Date.now() - started).toBeLessThan(450);
});
