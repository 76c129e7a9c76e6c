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
import type { SessionStore } from "../contract/store.js";
import { sqlServerDriver } from "../stores/sql/cli-driver.js";

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An open store plus a human description of where it is, for messages. */
export interface OpenedStore {
  store: SessionStore;
  /** e.g. "/srv/app/sessions.sqlite (table sessions)"; never contains a password. */
  where: string;
}

export interface StoreDriver {
  /** An example URL, shown in `--help` and in error messages. */
  example: string;
  /**
   * Opens the store. `create: true` (the `migrate` command) may create the database and
   * schema; `create: false` (every other command) must not create or change anything, and
   * fails clearly when there is nothing there yet.
   */
  open(url: string, options: { create: boolean }): Promise<OpenedStore>;
  /** The DDL `migrate` would run, ideally without connecting. */
  schemaSql(url: string): Promise<string>;
}

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

/** Store URL scheme (without the colon) -> how to open it. */
export const STORE_DRIVERS: Readonly<Record<string, StoreDriver>> = {
  sqlite: {
    example: "sqlite:./sessions.sqlite",
    async open(url, { create }) {
      const { path, table } = parseSqliteUrl(url);
      const memory = path === ":memory:";
      const where = `${memory ? ":memory:" : resolve(path)} (table ${table ?? "sessions"})`;
      if (!create && !memory && !existsSync(path)) {
        throw new Error(
          `no database at ${resolve(path)}. Check --store, or create it with \`sessionkit migrate --store ${url}\`.`,
        );
      }
      const { sqliteStore } = await import("../stores/sqlite.js");
      // Only `migrate` creates or upgrades the schema; the other commands use it as it is.
      const store = sqliteStore({ path, table, migrate: create });
      return { store, where };
    },
    async schemaSql(url) {
      const { table } = parseSqliteUrl(url);
      const { sqliteSchemaSql } = await import("../stores/sqlite.js");
      return sqliteSchemaSql(table);
    },
  },
  postgres: sqlServerDriver("postgres", UsageError),
  postgresql: sqlServerDriver("postgresql", UsageError),
  mysql: sqlServerDriver("mysql", UsageError),
  redis: {
    example: "redis://127.0.0.1:6379?prefix=sessionkit",
    open: async (url) => (await import("../stores/redis/url.js")).openRedisUrl(url, (m) => new UsageError(m)),
    schemaSql: async (url) => (await import("../stores/redis/url.js")).redisSchemaNote(url, (m) => new UsageError(m)),
  },
  "redis-cluster": {
    example: "redis-cluster://127.0.0.1:7000,127.0.0.1:7001",
    open: async (url) => (await import("../stores/redis/url.js")).openRedisUrl(url, (m) => new UsageError(m)),
    schemaSql: async (url) => (await import("../stores/redis/url.js")).redisSchemaNote(url, (m) => new UsageError(m)),
  },
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
