/**
 * Pruning a large backlog on SQLite never stalls the app: better-sqlite3 is synchronous, so
 * only short batches with a macrotask between them keep timers and requests flowing.
 * 200 000 rows here; SESSIONKIT_PRUNE_ROWS raises it (the long run uses 1 000 000).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createSessions } from "../../src/index.js";
import { sqliteStore } from "../../src/stores/sqlite.js";

const ROWS = Number(process.env.SESSIONKIT_PRUNE_ROWS ?? 200_000);
const dir = mkdtempSync(join(tmpdir(), "sessionkit-prune-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

describe(`SQLite prune of ${ROWS} expired rows`, () => {
  it(
    "keeps the event loop turning (longest gap < 100 ms), answers every read, deletes every row",
    async () => {
      const path = join(dir, "prune.sqlite");
      const store = sqliteStore({ path });
      const sessions = createSessions({ store, secrets: ["prune-secret-0123456789abcdef0123456789abcd"] });
      const live = await sessions.load(new Request("http://x/"));
      live.set("keep", 1);
      const cookie = (await sessions.commit(live)).getSetCookie()[0]?.split(";")[0] as string;

      // The backlog, written behind the store's back in one transaction (fast), long expired:
      // expiring in the order they were created, as real sessions do, spread over 1000 users.
      const raw = new Database(path);
      raw.pragma("busy_timeout = 5000");
      raw
        .prepare(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
           INSERT INTO sessions (id, secret_hash, user_id, data, version, created_at, last_active_at, expires_at, ip, user_agent, meta)
           SELECT printf('%032x', i), printf('%064x', i), 'u' || (i % 1000), zeroblob(64), 1, 1000, 1000, 2000 + i / 100, NULL, NULL, NULL FROM n`,
        )
        .run(ROWS);
      raw.close();
      expect((await sessions.stats()).expired).toBe(ROWS);

      // A 10 ms timer measures the event loop; reads run back to back for the whole prune.
      let last = performance.now();
      let longestGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 10);
      let done = false;
      const readTimes: number[] = [];
      const reader = (async () => {
        while (!done) {
          const t = performance.now();
          const s = await sessions.load(new Request("http://x/", { headers: { cookie } }));
          readTimes.push(performance.now() - t);
          expect(s.get("keep")).toBe(1);
          await new Promise((r) => setTimeout(r, 1));
        }
      })();
      const started = performance.now();
      last = started;
      const deleted = await sessions.prune();
      const took = performance.now() - started;
      done = true;
      await reader;
      clearInterval(timer);

      expect(deleted).toBe(ROWS);
      expect((await sessions.stats()).total).toBe(1);
      expect(longestGap).toBeLessThan(100);
      expect(readTimes.length).toBeGreaterThan(10);
      console.log(
        `[prune] sqlite ${ROWS} rows in ${(took / 1000).toFixed(1)} s; longest event-loop gap ${longestGap.toFixed(1)} ms; ` +
          `${readTimes.length} reads, p99 ${percentile(readTimes, 99).toFixed(1)} ms`,
      );
      await sessions.close();
    },
    Math.max(120_000, ROWS / 5),
  );
});
