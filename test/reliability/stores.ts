/**
 * Every store the reliability campaigns run on, opened the same way: a fresh table / key
 * prefix per call, and a `drop()` that removes it. SQLite uses a file in a temp directory (so
 * several processes can share it); PostgreSQL, MariaDB and Redis use the shared test servers
 * (or a URL given, e.g. through a fault proxy or a server the test started).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import type { SessionStore } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { redisStore } from "../../src/stores/redis.js";
import { sqliteStore } from "../../src/stores/sqlite.js";
import { dropRedisKeys } from "../helpers/redis-server.js";
import { sqlBackends } from "../multi-server/sql-stores.js";
import { SERVICE_URLS } from "../setup/services.js";

export type StoreKind = "memory" | "sqlite" | "postgres" | "mysql" | "redis";
export const ALL_STORES: StoreKind[] = ["memory", "sqlite", "postgres", "mysql", "redis"];
/** The stores several processes can share. */
export const SHARED_STORES: Array<Exclude<StoreKind, "memory" | "sqlite">> = ["postgres", "mysql", "redis"];

/** Which external service a store needs (for skipping when it is down). */
export const serviceOf = (kind: StoreKind) => (kind === "postgres" || kind === "mysql" || kind === "redis" ? kind : null);

/** What a test (or an app process) needs to open the same store again elsewhere. */
export interface StoreSpec {
  kind: StoreKind;
  /** Connection URL (SQL, Redis) or the SQLite file path. */
  url: string;
  /** Table (SQL) or key prefix (Redis). */
  name: string;
}

export interface OpenedStore {
  store: SessionStore;
  /** Resolves once the store can take requests (a Redis client is connected). */
  ready(): Promise<void>;
  /** Releases what open() made (pools, clients), leaving the data. */
  close(): Promise<void>;
}

/** Redis client options the docs recommend: fail fast while disconnected, keep reconnecting. */
export const redisClientOptions = {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  retryStrategy: () => 100,
  connectTimeout: 2000,
} as const;

/** Opens the store of `spec` (a new pool / client each time: another "process"). */
export function openStore(spec: StoreSpec, extra: { queryTimeout?: number } = {}): OpenedStore {
  switch (spec.kind) {
    case "memory": {
      const store = memoryStore();
      return { store, ready: async () => {}, close: () => store.close() };
    }
    case "sqlite": {
      const store = sqliteStore({ path: spec.url, table: spec.name });
      return { store, ready: async () => {}, close: () => store.close() };
    }
    case "postgres":
    case "mysql": {
      const store = sqlBackends[spec.kind].store(spec.url, spec.name, { connectTimeout: 2000, queryTimeout: extra.queryTimeout });
      return { store, ready: async () => {}, close: () => store.close() };
    }
    case "redis": {
      const client = new Redis(spec.url, redisClientOptions);
      client.on("error", () => {}); // reconnect noise during outages; requests report their own errors
      const store = redisStore({ client, prefix: spec.name });
      return {
        store,
        async ready() {
          const deadline = Date.now() + 10_000;
          while (client.status !== "ready") {
            if (Date.now() > deadline) throw new Error(`redis client not ready after 10 s (${client.status})`);
            await new Promise((r) => setTimeout(r, 20));
          }
        },
        close: async () => {
          await store.close();
          client.disconnect();
        },
      };
    }
  }
}

let counter = 0;
/** A fresh spec (new table / prefix / file) for `kind`, migrated; `drop()` removes it. */
export async function freshStore(kind: StoreKind, url?: string): Promise<{ spec: StoreSpec; drop: () => Promise<void> }> {
  const name = `sk_rel_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  if (kind === "memory") return { spec: { kind, url: "", name }, drop: async () => {} };
  if (kind === "sqlite") {
    const dir = mkdtempSync(path.join(tmpdir(), "sessionkit-rel-"));
    const spec = { kind, url: path.join(dir, "sessions.sqlite"), name: "sessions" };
    return { spec, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (kind === "redis") {
    const spec = { kind, url: url ?? SERVICE_URLS.redis, name };
    return {
      spec,
      drop: async () => {
        const client = new Redis(SERVICE_URLS.redis, { lazyConnect: false });
        await dropRedisKeys(client, name);
        client.disconnect();
      },
    };
  }
  const spec = { kind, url: url ?? SERVICE_URLS[kind], name };
  const opened = openStore({ ...spec, url: SERVICE_URLS[kind] });
  await opened.store.migrate?.();
  await opened.close();
  return {
    spec,
    drop: async () => {
      const admin = sqlBackends[kind].admin(SERVICE_URLS[kind]);
      await admin.dropTable(name);
      await admin.end();
    },
  };
}
