import type { InvalidationChannel, InvalidationListener } from "../../contract/store.js";
import type { RedisClient } from "./client.js";

/** Ids per PUBLISH: 33 bytes each, so a message stays far below any proxy's limits. */
const IDS_PER_MESSAGE = 1000;

export interface RedisChannelOptions {
  /** The store's client: publishes (PUBLISH works the same on a Cluster). */
  client: RedisClient;
  /** The store's key prefix: the channel is `<prefix>:invalidate`, so apps sharing a Redis stay apart. */
  prefix: string;
  /**
   * Makes the connection that subscribes (one per cache). Default: `client.duplicate()`, which
   * the channel disconnects when the cache stops.
   */
  subscriber?: () => RedisClient;
}

type Subscriber = RedisClient & {
  subscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  disconnect(): void;
  status?: string;
};

/**
 * The Redis store's invalidation channel: Redis pub/sub on `<prefix>:invalidate`. A publish
 * resolves with Redis's reply, which comes after Redis wrote the message to every subscribed
 * connection. Each cache subscribes on its own connection and reports itself down as soon as
 * that connection closes or starts reconnecting, and up again once SUBSCRIBE is confirmed.
 */
export function redisChannel(options: RedisChannelOptions): InvalidationChannel {
  const { client } = options;
  const name = `${options.prefix}:invalidate`;
  const makeSubscriber = options.subscriber ?? (() => client.duplicate() as RedisClient);
  return {
    subscribe(listener: InvalidationListener) {
      const sub = makeSubscriber() as Subscriber;
      let closed = false;
      let up = false;
      const down = () => {
        if (up) {
          up = false;
          listener.state(false);
        }
      };
      const resubscribe = async () => {
        try {
          await sub.subscribe(name);
          if (closed || up) return;
          up = true;
          listener.state(true);
        } catch {
          down();
        }
      };
      sub.on("message", (channel: unknown, message: unknown) => {
        if (channel !== name || typeof message !== "string") return;
        if (message === "*") listener.invalidateAll();
        else listener.invalidate(message.split(","));
      });
      for (const event of ["close", "end", "reconnecting"]) sub.on(event, down);
      // A failing connection reports "error" before it closes; the close marks it down.
      sub.on("error", () => {});
      sub.on("ready", () => void resubscribe());
      if (sub.status === "ready") void resubscribe();
      return async () => {
        closed = true;
        down();
        sub.removeAllListeners("message");
        sub.disconnect();
      };
    },
    async publish(ids) {
      if (ids === "all") {
        await client.publish(name, "*");
        return;
      }
      for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) {
        await client.publish(name, ids.slice(i, i + IDS_PER_MESSAGE).join(","));
      }
    },
  };
}
