import { createHash } from "node:crypto";
import type { InvalidationChannel, InvalidationListener } from "../../contract/store.js";
import { type EchoWait, echoWait } from "../echo-wait.js";

/** Ids per NOTIFY: PostgreSQL caps a payload below 8000 bytes; 33 bytes per id. */
const IDS_PER_MESSAGE = 200;
const RETRY_MAX_MS = 5_000;

/** What the channel needs of a pg client: connect, LISTEN, notifications and its end. */
export interface ListenClient {
  connect(): Promise<unknown>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
  on(event: "notification", listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: "error" | "end", listener: (...args: unknown[]) => void): unknown;
}

export interface PostgresChannelOptions {
  /** Runs `SELECT pg_notify($1, $2)` (the store's pool). */
  notify(channel: string, payload: string): Promise<void>;
  /**
   * A new, unconnected client for LISTEN (one per cache, kept open). Default: a `pg.Client`
   * with the pool's own connection settings (`new pool.Client(pool.options)`).
   */
  listenClient(): Promise<ListenClient>;
  /** The qualified table name: the channel is named after it, so tables sharing a database stay apart. */
  qualifiedTable: string;
  /** Shared with the store's notifying update (sql.updateNotify), which waits for its echo too. */
  echo?: EchoWait;
}

/** The LISTEN channel of a table: a plain lowercase identifier (no quoting needed). */
export const channelNameOf = (qualifiedTable: string) =>
  `sessionkit_${createHash("sha1").update(qualifiedTable).digest("hex").slice(0, 24)}`;

/**
 * The PostgreSQL store's invalidation channel: NOTIFY on a channel named after the table,
 * LISTEN on a connection of its own per cache. A publish resolves once its NOTIFY committed
 * and, while this process LISTENs, once its own notification came back (at most 500 ms):
 * PostgreSQL signals every listening backend at commit, each sends the message to its idle
 * connection, and under load that takes milliseconds, long enough for a client's next request
 * to reach another process first (seen in CI). The listener reports itself down when its
 * connection errs or ends, and reconnects with backoff (up to 5 s), up again once LISTEN is
 * confirmed.
 */
export function postgresChannel(options: PostgresChannelOptions): InvalidationChannel {
  const name = channelNameOf(options.qualifiedTable);
  const echo = options.echo ?? echoWait();
  return {
    subscribe(listener: InvalidationListener) {
      let closed = false;
      let current: ListenClient | null = null;
      let up = false;
      let attempt = 0;
      let timer: ReturnType<typeof setTimeout> | null = null;

      const lost = (client: ListenClient | null) => {
        if (client !== current) return;
        current = null;
        if (up) {
          up = false;
          echo.down();
          listener.state(false);
        }
        client?.end().catch(() => {});
        if (closed) return;
        const delay = Math.min(RETRY_MAX_MS, 100 * 2 ** attempt++);
        timer = setTimeout(connect, delay);
        timer.unref?.();
      };

      async function connect() {
        timer = null;
        if (closed) return;
        let client: ListenClient | null = null;
        try {
          client = await options.listenClient();
          current = client;
          const self = client;
          self.on("notification", (message) => {
            if (message.channel !== name) return;
            const payload = message.payload ?? "*";
            if (payload === "*") listener.invalidateAll();
            else listener.invalidate(payload.split(","));
            echo.received(payload);
          });
          self.on("error", () => lost(self));
          self.on("end", () => lost(self));
          await self.connect();
          await self.query(`LISTEN ${name}`);
          if (closed || current !== self) {
            await self.end().catch(() => {});
            return;
          }
          attempt = 0;
          up = true;
          echo.up();
          listener.state(true);
        } catch {
          if (client === null) {
            // Could not even make a client: try again later.
            current = null;
            if (!closed) {
              timer = setTimeout(connect, Math.min(RETRY_MAX_MS, 100 * 2 ** attempt++));
              timer.unref?.();
            }
          } else lost(client);
        }
      }

      void connect();
      return async () => {
        closed = true;
        if (timer) clearTimeout(timer);
        const client = current;
        current = null;
        if (up) {
          up = false;
          echo.down();
          listener.state(false);
        }
        await client?.end().catch(() => {});
      };
    },
    async publish(ids) {
      const send = (payload: string) => echo.publish(payload, () => options.notify(name, payload));
      if (ids === "all") {
        await send("*");
        return;
      }
      for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) await send(ids.slice(i, i + IDS_PER_MESSAGE).join(","));
    },
  };
}

/** A LISTEN client with the connection settings of a `pg.Pool` (its `Client` class and `options`). */
export function listenClientOf(pool: unknown): ListenClient {
  const { Client, options } = pool as { Client?: new (config: unknown) => ListenClient; options?: Record<string, unknown> };
  if (typeof Client !== "function") {
    throw new TypeError("[sessionkit] [postgres] the near-cache needs a pg.Pool (its Client and options) to LISTEN");
  }
  // Not from the pool: a LISTEN connection is held for good and must not take a pool slot.
  return new Client({ ...options, keepAlive: true });
}
