import { EventEmitter } from "node:events";
import type { Cluster, Redis } from "ioredis";
import { nodeName } from "./client.js";

/** First and longest pause before a lost subscriber connection is opened again. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 5_000;

const slots = new WeakMap<Cluster, Map<string, number>>();

/** The hash slot of a channel name (asked once per client and name: it never changes). */
export async function channelSlot(cluster: Cluster, channel: string): Promise<number> {
  let known = slots.get(cluster);
  if (!known) {
    known = new Map();
    slots.set(cluster, known);
  }
  let slot = known.get(channel);
  if (slot === undefined) {
    slot = Number(await cluster.cluster("KEYSLOT", channel));
    known.set(channel, slot);
  }
  return slot;
}

/** The master serving `slot` in the Cluster client's current slot map. */
export function masterOfSlot(cluster: Cluster, slot: number): Redis {
  const key = cluster.slots[slot]?.[0];
  const node = cluster.nodes("master").find((n) => nodeName(n) === key);
  if (!node) throw new Error(`no master known for slot ${slot}`);
  return node;
}

/**
 * A Cluster's subscriber for one channel, always on the master that serves the channel name's
 * slot, so every process subscribes on the same node.
 *
 * Why not the Cluster client's own SUBSCRIBE: ioredis subscribes on a random node, and a
 * Cluster forwards a PUBLISH from node to node over its bus, so two processes on two nodes get
 * the same message at different moments. A publisher's own echo would then prove nothing about
 * the other processes. One node writes a message to all its subscribers together, as a
 * standalone server does, so the echo wait (echo-wait.ts) holds again.
 *
 * Emits what an ioredis connection does that the channel listens to: "ready" once connected,
 * "message", and "reconnecting" when the connection is lost; it then finds the slot's master
 * again (a failover may have moved it) and connects there, with backoff, until `disconnect()`.
 * When the Cluster client's slot map changes (its "refresh", every `slotsRefreshInterval` and
 * after a MOVED) so that another master serves the slot, it moves there the same way.
 */
export class SlotMasterSubscriber extends EventEmitter {
  status: "connecting" | "ready" | "reconnecting" | "end" = "connecting";
  private connection: Redis | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private slot: number | null = null;
  private readonly onRefresh = () => this.followSlot();

  constructor(
    private readonly cluster: Cluster,
    private readonly channel: string,
  ) {
    super();
    cluster.on("refresh", this.onRefresh);
    void this.open();
  }

  /** Leaves a master that no longer serves the slot (resharding) for the one that does. */
  private followSlot() {
    const connection = this.connection;
    if (!connection || this.slot === null) return;
    const key = this.cluster.slots[this.slot]?.[0];
    if (key === undefined || key === nodeName(connection)) return;
    this.connection = null;
    connection.disconnect();
    this.status = "reconnecting";
    this.emit("reconnecting");
    void this.open();
  }

  /** A method, not a field read: TypeScript would keep its narrowing across the awaits. */
  private stopped(): boolean {
    return this.status === "end";
  }

  private async master(): Promise<Redis> {
    this.slot ??= await channelSlot(this.cluster, this.channel);
    return masterOfSlot(this.cluster, this.slot);
  }

  private async open(): Promise<void> {
    if (this.stopped()) return;
    let master: Redis;
    try {
      master = await this.master();
    } catch {
      this.retry();
      return;
    }
    if (this.stopped()) return;
    // No reconnecting to the same address: after a failover it is a replica, or gone.
    const connection = master.duplicate({ lazyConnect: false, retryStrategy: () => null, enableOfflineQueue: false });
    this.connection = connection;
    connection.on("error", () => {});
    connection.on("message", (channel: string, message: string) => this.emit("message", channel, message));
    connection.once("ready", () => {
      if (this.connection !== connection) return;
      this.attempt = 0;
      this.status = "ready";
      this.emit("ready");
    });
    connection.once("end", () => {
      if (this.connection !== connection) return;
      this.connection = null;
      if (this.stopped()) return;
      this.status = "reconnecting";
      this.emit("reconnecting");
      this.retry();
    });
  }

  private retry() {
    if (this.stopped()) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.attempt++);
    this.timer = setTimeout(() => {
      this.timer = null;
      // Let the Cluster client notice a moved slot before the next look at its map.
      if (this.attempt > 1) this.cluster.refreshSlotsCache?.();
      void this.open();
    }, delay);
    this.timer.unref?.();
  }

  async subscribe(channel: string): Promise<unknown> {
    if (!this.connection) throw new Error("the subscriber is not connected");
    return this.connection.subscribe(channel);
  }

  disconnect(): void {
    this.status = "end";
    this.cluster.off("refresh", this.onRefresh);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const connection = this.connection;
    this.connection = null;
    connection?.disconnect();
  }
}
