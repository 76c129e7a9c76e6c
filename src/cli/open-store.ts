/**
 * The one place where the CLI turns a store URL (`--store` or `SESSIONKIT_STORE`) into a
 * store. Each backend is one entry of {@link STORE_DRIVERS}, keyed by URL scheme; its module is
 * imported only when that scheme is used, so the CLI never needs a driver the user does not use.
 *
 * Adding a backend (PostgreSQL, MySQL, Redis...) means adding one entry:
 *
 * ```ts
 * postgres: {
 *   example: "postgres://user:password@localhost:5432/app",
 *   product: "PostgreSQL", // for advice such as "is PostgreSQL running at ...?"
 *   async open(url, { create }) {
 *     const { postgresStore } = await import("../stores/postgres.js");
 *     const store = postgresStore({ connectionString: url });
 *     if (create) await store.migrate();
 *     return { store, where: redact(url) };
 *   },
 *   async schemaSql(url) { ... },  // the DDL, without connecting if the store allows it
 * },
 * ```
 *
 * (and an alias such as `postgresql` pointing at the same entry). An entry throws
 * {@link UsageError} for a URL it cannot read (exit code 2); any other error is an operational
 * failure (exit code 1).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ShellFailure } from "./failure.js";
import { sqlServerDriver } from "./sql-driver.js";
import { type OpenedStore, type StoreDriver, UsageError } from "./store-driver.js";

export { type OpenedStore, type StoreDriver, UsageError } from "./store-driver.js";

/** Reads `sqlite:PATH[?table=NAME]` (also `sqlite://PATH` and `sqlite::memory:`). */
export function parseSqliteUrl(url: string): { path: string; table: string | undefined } {
  let rest = url.slice(url.indexOf(":") + 1);
  if (rest.startsWith("//")) rest = rest.slice(2);
  const q = rest.indexOf("?");
  const path = q >= 0 ? rest.slice(0, q) : rest;
  const query = new URLSearchParams(q >= 0 ? rest.slice(q + 1) : "");
  for (const key of query.keys()) {
    if (key !== "table") throw new UsageError(`unknown parameter "${key}" in the sqlite store URL (only ?table=NAME is known)`);
  }
  if (path === "") throw new UsageError("the sqlite store URL has no path: use sqlite:./sessions.sqlite");
  return { path, table: query.get("table") ?? undefined };
}

/** A Redis scheme; ioredis is imported only when such a URL is used. */
function redisDriver(example: string, product: string): StoreDriver {
  return {
    example,
    product,
    open: async (url) => (await import("./redis-url.js")).openRedisUrl(url),
    schemaSql: async (url) => (await import("./redis-url.js")).redisSchemaNote(url),
  };
}

/** Store URL scheme (without the colon) -> how to open it. */
export const STORE_DRIVERS: Readonly<Record<string, StoreDriver>> = {
  sqlite: {
    example: "sqlite:./sessions.sqlite",
    product: "SQLite",
    async open(url, { create }) {
      const { path, table } = parseSqliteUrl(url);
      const memory = path === ":memory:";
      const where = `${memory ? ":memory:" : resolve(path)} (table ${table ?? "sessions"})`;
      if (!create && !memory && !existsSync(path)) {
        throw new ShellFailure(
          `no database at ${resolve(path)}. Check --store, or create it with \`sessionkit migrate --store ${url}\`.`,
        );
      }
      const { sqliteStore } = await import("../stores/sqlite.js");
      // Never at open: `migrate` calls store.migrate() itself, which reports what it did
      // (created, upgraded, current); the other commands use the schema as it is.
      const store = sqliteStore({ path, table, migrate: false });
      return { store, where };
    },
    async schemaSql(url) {
      const { table } = parseSqliteUrl(url);
      const { sqliteSchemaSql } = await import("../stores/sqlite.js");
      return sqliteSchemaSql(table);
    },
  },
  postgres: sqlServerDriver("postgres"),
  postgresql: sqlServerDriver("postgresql"),
  mysql: sqlServerDriver("mysql"),
  redis: redisDriver("redis://127.0.0.1:6379?prefix=sessionkit", "Redis"),
  rediss: redisDriver("rediss://user:password@redis.example.com:6380", "Redis"),
  "redis-cluster": redisDriver("redis-cluster://127.0.0.1:7000,127.0.0.1:7001", "the Redis Cluster"),
};

/** Finds the driver for a store URL; a missing or unknown scheme is a usage error. */
export function driverFor(url: string | undefined): StoreDriver {
  const known = Object.entries(STORE_DRIVERS)
    .map(([, d]) => d.example)
    .join(", ");
  if (url === undefined || url === "") {
    throw new UsageError(`no store given: pass --store URL or set SESSIONKIT_STORE (for example ${known})`);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const driver = scheme === undefined ? undefined : STORE_DRIVERS[scheme];
  if (!driver) {
    throw new UsageError(
      `${scheme === undefined ? "the store URL has no scheme" : `unknown store scheme "${scheme}:"`} in ${JSON.stringify(url)}; known: ${known}`,
    );
  }
  return driver;
}

/** Opens the store a URL names. */
export function openStore(url: string | undefined, options: { create: boolean }): Promise<OpenedStore> {
  return driverFor(url).open(url as string, options);
}
