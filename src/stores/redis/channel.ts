import type { InvalidationChannel, InvalidationListener } from "../../contract/store.js";
import { type EchoWait, echoWait } from "../echo-wait.js";
import { isCluster, type RedisClient } from "./client.js";
import { channelSlot, masterOfSlot, SlotMasterSubscriber } from "./slot-subscriber.js";

/** Ids per PUBLISH: 33 bytes each, so a message stays far below any proxy's limits. */
const IDS_PER_MESSAGE = 1000;

export interface RedisChannelOptions {
  /** The store's client: publishes (PUBLISH works the same on a Cluster). */
  client: RedisClient;
  /** The store's key prefix: the channel is `<prefix>:invalidate`, so apps sharing a Redis stay apart. */
  prefix: string;
  /**
   * Makes the connection that subscribes (one per cache), which the channel disconnects when
   * the cache stops. Default: `client.duplicate()`; on a Cluster, a connection to the master of
   * the channel name's slot, the same node for every process (see slot-subscriber.ts).
   */
  subscriber?: () => RedisClient;
  /** Shared with the store's publishing update (UPDATE_PUBLISH), which waits for its echo too. */
  echo?: EchoWait;
}

/** The channel of a key prefix. */
export const redisChannelName = (prefix: string) => `${prefix}:invalidate`;

type Subscriber = RedisClient & {
  subscribe(channel: string): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  disconnect(): void;
  status?: string;
};

/**
 * The Redis store's invalidation channel: Redis pub/sub on `<prefix>:invalidate`. Each cache
 * subscribes on its own connection and reports itself down as soon as that connection closes
 * or starts reconnecting, and up again once SUBSCRIBE is confirmed.
 *
 * Redis's reply to PUBLISH may reach the publisher before the message reaches the subscribers
 * (seen after a failover: 3 ms earlier). So while this process has a subscription up, a publish
 * resolves only once that subscription received the message: Redis writes a message to all
 * subscribers together, so by then the other processes' connections have it too, and the
 * client's very next request anywhere finds its cache entry gone. That holds on one node: on a
 * Cluster every process subscribes on the same node for it (slot-subscriber.ts).
 */
export function redisChannel(options: RedisChannelOptions): InvalidationChannel {
  const { client } = options;
  const name = redisChannelName(options.prefix);
  const makeSubscriber =
    options.subscriber ??
    (() => (isCluster(client) ? (new SlotMasterSubscriber(client, name) as unknown as RedisClient) : client.duplicate()));
  const echo = options.echo ?? echoWait();
  // On a Cluster, PUBLISH on the node every process subscribes on: it writes the message to
  // their connections before it replies, as a standalone server does. Another node would
  // reply first and forward the message over the cluster bus after.
  const send = async (message: string) => {
    if (!isCluster(client)) return client.publish(name, message);
    let node: RedisClient = client;
    try {
      node = masterOfSlot(client, await channelSlot(client, name));
    } catch {
      // The slot map is not loaded yet: any node will do, a bus hop later.
    }
    return node.publish(name, message);
  };
  const publishAndAwaitEcho = (message: string) => echo.publish(message, () => send(message));
  return {
    subscribe(listener: InvalidationListener) {
      const sub = makeSubscriber() as Subscriber;
      let closed = false;
      let up = false;
      const down = () => {
        if (up) {
          up = false;
          echo.down();
          listener.state(false);
        }
      };
      const resubscribe = async () => {
        try {
          await sub.subscribe(name);
          if (closed || up) return;
          up = true;
          echo.up();
          listener.state(true);
        } catch {
          down();
        }
      };
      sub.on("message", (channel: unknown, message: unknown) => {
        if (channel !== name || typeof message !== "string") return;
        if (message === "*") listener.invalidateAll();
        else listener.invalidate(message.split(","));
        echo.received(message);
      });
      for (const event of ["close", "end", "reconnecting"]) sub.on(event, down);
      // A failing connection reports "error" before it closes; the close marks it down.
      sub.on("error", () => {});
      sub.on("ready", () => void resubscribe());
      // "wait": a client made with lazyConnect (and its duplicate) connects on its first command.
      if (sub.status === "ready" || sub.status === "wait") void resubscribe();
      return async () => {
        closed = true;
        down();
        sub.removeAllListeners("message");
        sub.disconnect();
      };
    },
    async publish(ids) {
      if (ids === "all") {
        await publishAndAwaitEcho("*");
        return;
      }
      for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) {
        await publishAndAwaitEcho(ids.slice(i, i + IDS_PER_MESSAGE).join(","));
      }
    },
  };
}
