import { createHash } from "node:crypto";
import type { InvalidationChannel, InvalidationListener } from "../../contract/store.js";

/** Ids per change row (a TEXT column holds them comma-separated). */
const IDS_PER_ROW = 1000;
/** Change rows are read again for this long after they were written, so one that became visible late is not missed. */
const OVERLAP_MS = 2_000;
/** Change rows older than this are deleted by publishers, now and then. */
const KEEP_MS = 60_000;

export interface MysqlChannelOptions {
  /** Runs one statement on the store's pool; resolves the rows of a SELECT. */
  query(text: string, values?: unknown[]): Promise<unknown>;
  /** The sessions table; the change log is a table beside it. */
  table: string;
  /** How often each cache reads the change log, in ms: the bound on staleness. @default 250 */
  interval?: number;
}

/** The change-log table of a sessions table: `<table>_changes`, hashed when that would pass MySQL's 64 characters. */
export const changesTableOf = (table: string) =>
  table.length + 8 <= 64 ? `${table}_changes` : `sk_changes_${createHash("sha1").update(table).digest("hex").slice(0, 32)}`;

/**
 * The MySQL store's invalidation channel. MySQL has no notifications, so publishing appends
 * the ids to a change-log table (one INSERT) and every cache reads the rows of the last
 * `interval` + 2 s from it every `interval` ms (one indexed range read), by the server's clock.
 * Staleness is therefore bounded, not zero: a session written or revoked through another
 * process can be served from a cache for up to `interval` ms (plus the query's round trip).
 * A failing read marks the channel down (the cache empties and is bypassed) until one succeeds.
 */
export function mysqlChannel(options: MysqlChannelOptions): InvalidationChannel {
  const interval = options.interval ?? 250;
  const t = `\`${changesTableOf(options.table)}\``;
  let ensured: Promise<unknown> | null = null;
  const ensure = () => {
    ensured ??= options
      .query(
        `CREATE TABLE IF NOT EXISTS ${t} (seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, ids MEDIUMTEXT NOT NULL, at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), KEY at_idx (at)) ENGINE=InnoDB`,
      )
      .catch((error: unknown) => {
        ensured = null;
        throw error;
      });
    return ensured;
  };
  let publishes = 0;
  return {
    synchronous: true, // nothing to wait for: messages arrive by polling
    subscribe(listener: InvalidationListener) {
      let closed = false;
      let up = false;
      let timer: ReturnType<typeof setTimeout> | null = null;
      const seen = new Set<number>();
      const tick = async () => {
        timer = null;
        if (closed) return;
        try {
          await ensure();
          const rows = (await options.query(`SELECT seq, ids FROM ${t} WHERE at > NOW(3) - INTERVAL ? MICROSECOND`, [
            (interval + OVERLAP_MS) * 1000,
          ])) as Array<{ seq: number | string; ids: string }>;
          if (closed) return;
          if (!up) {
            // Starting (or back after a failure): what changed before is unknown, and the cache is empty.
            for (const row of rows) seen.add(Number(row.seq));
            up = true;
            listener.state(true);
          } else {
            const fresh = new Set<number>();
            for (const row of rows) {
              const seq = Number(row.seq);
              fresh.add(seq);
              if (seen.has(seq)) continue;
              if (row.ids === "*") listener.invalidateAll();
              else listener.invalidate(row.ids.split(","));
            }
            seen.clear();
            for (const seq of fresh) seen.add(seq);
          }
        } catch {
          if (up) {
            up = false;
            listener.state(false);
          }
        }
        if (!closed) {
          timer = setTimeout(tick, interval);
          timer.unref?.();
        }
      };
      void tick();
      return async () => {
        closed = true;
        if (timer) clearTimeout(timer);
        if (up) {
          up = false;
          listener.state(false);
        }
      };
    },
    async publish(ids) {
      await ensure();
      const rows = ids === "all" ? ["*"] : [];
      if (ids !== "all") for (let i = 0; i < ids.length; i += IDS_PER_ROW) rows.push(ids.slice(i, i + IDS_PER_ROW).join(","));
      for (const row of rows) await options.query(`INSERT INTO ${t} (ids) VALUES (?)`, [row]);
      if (++publishes % 200 === 0) {
        await options.query(`DELETE FROM ${t} WHERE at < NOW(3) - INTERVAL ? MICROSECOND LIMIT 1000`, [KEEP_MS * 1000]);
      }
    },
  };
}
