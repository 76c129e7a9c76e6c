/**
 * What every store entry of the CLI implements, and the CLI's usage error. Kept apart from
 * `open-store.ts` so the per-backend modules (`sql-driver.ts`, `redis-url.ts`) can import it
 * without an import cycle.
 */
import type { SessionStore } from "../contract/store.js";

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
  /** The product name for advice, e.g. "PostgreSQL" ("is PostgreSQL running at ...?"). */
  product: string;
  /**
   * Opens the store. `create: true` (the `migrate` command) may create the database and
   * schema; `create: false` (every other command) must not create or change anything, and
   * fails clearly when there is nothing there yet.
   */
  open(url: string, options: { create: boolean }): Promise<OpenedStore>;
  /** The DDL `migrate` would run, ideally without connecting. */
  schemaSql(url: string): Promise<string>;
}
