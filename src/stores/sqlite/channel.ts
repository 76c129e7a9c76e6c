import type { InvalidationChannel } from "../../contract/store.js";
import { localChannel } from "../local-channel.js";

/** What the channel needs of the store's better-sqlite3 connection. */
interface PragmaDatabase {
  prepare(source: string): { get(): unknown };
}

/**
 * The SQLite store's invalidation channel, for processes sharing one database file on one
 * machine. Writes through this store object reach its caches directly (in-process). Writes
 * through any other connection, in this process or another, are seen by `PRAGMA
 * data_version`, which changes whenever another connection committed: the cache reads it
 * before every hit (a few microseconds, no I/O beyond the shared WAL index) and empties itself
 * when it moved. Coarse (any commit elsewhere empties every cache on the file) but instant: the
 * request after a revoke committed elsewhere already misses.
 */
export function sqliteChannel(db: PragmaDatabase): InvalidationChannel & { poll(): void } {
  // Writes through this store object fan out in-process; data_version catches all others.
  const local = localChannel();
  let seen: unknown = null;
  // Prepared once: db.pragma() prepares a new statement on every call, and this runs before
  // every cache hit. Prepared on first use, so a channel made for a store whose file is not
  // open yet costs nothing.
  let statement: { get(): unknown } | null = null;
  const version = () => {
    statement ??= db.prepare("PRAGMA data_version");
    return (statement.get() as { data_version?: unknown } | undefined)?.data_version;
  };
  return {
    synchronous: true,
    subscribe(listener) {
      try {
        seen = version();
      } catch {
        // A closed database: poll() keeps the cache empty.
      }
      return local.subscribe(listener);
    },
    publish: local.publish,
    poll() {
      let now: unknown;
      try {
        now = version();
      } catch {
        now = undefined; // closed or failing: treat as changed, every time
      }
      if (now !== undefined && now === seen) return;
      seen = now;
      for (const listener of local.listeners) listener.invalidateAll();
    },
  };
}
