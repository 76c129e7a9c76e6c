/**
 * Prune at scale (full run only): 1 000 000 expired rows on SQLite and on PostgreSQL, pruned
 * by `sessions.prune()` (batches of pruneBatchSize, yielding between them) while readers keep
 * loading live sessions. Figures: rows pruned, total time, read p99 without the prune and
 * during it; the p99 during the prune must stay within 2x of the p99 without it.
 *
 * SESSIONKIT_LONG=1 runs it; SESSIONKIT_PRUNE_ROWS overrides the row count (a smaller trial).
 */
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createSessions, type SessionStore, type Sessions } from "../../src/index.js";
import { sqliteStore } from "../../src/stores/sqlite.js";
import { describeWithService } from "../helpers/services.js";
import { LONG, percentile, recordFigure } from "./figures.js";
import { freshStore, openStore } from "./stores.js";

const ROWS = Number(process.env.SESSIONKIT_PRUNE_ROWS ?? 1_000_000);
const LIVE = 1_000;
const READERS = 4;
const BASELINE_MS = 10_000;
const enabled = LONG || process.env.SESSIONKIT_PRUNE_ROWS !== undefined;

/** Loads random live sessions with `READERS` concurrent readers until `done()`; returns latencies. */
async function readWhile(sessions: Sessions<Record<string, unknown>>, cookies: string[], done: () => boolean) {
  const latencies: number[] = [];
  let misses = 0;
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      while (!done()) {
        const cookie = cookies[Math.floor(Math.random() * cookies.length)] as string;
        const started = performance.now();
        const s = await sessions.load(new Headers({ cookie }));
        latencies.push(performance.now() - started);
        if (s.isNew) misses++;
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  return { latencies, misses };
}

async function campaign(name: string, store: SessionStore, fill: (expiredBefore: number) => Promise<void>) {
  const sessions = createSessions<Record<string, unknown>>({ store, secrets: ["prune-scale-secret-0123456789abcdef0123456789"] });
  const cookies: string[] = [];
  for (let i = 0; i < LIVE; i++) {
    const s = await sessions.load(new Headers());
    s.set("i", i);
    cookies.push((await sessions.commit(s)).getSetCookie()[0]?.split(";")[0] as string);
  }
  const fillStarted = Date.now();
  await fill(Date.now() - 60_000);
  const fillSeconds = (Date.now() - fillStarted) / 1000;

  const until = Date.now() + BASELINE_MS;
  const baseline = await readWhile(sessions, cookies, () => Date.now() > until);

  let pruning = true;
  const pruneStarted = performance.now();
  const pruned = sessions.prune().finally(() => {
    pruning = false;
  });
  const during = await readWhile(sessions, cookies, () => !pruning);
  const count = await pruned;
  const pruneSeconds = (performance.now() - pruneStarted) / 1000;
  await sessions.close();

  const p99Base = percentile(baseline.latencies, 99);
  const p99During = percentile(during.latencies, 99);
  recordFigure({
    section: "prune",
    name,
    values: {
      "expired rows": ROWS,
      pruned: count,
      "prune seconds": Math.round(pruneSeconds * 100) / 100,
      "rows per second": Math.round(count / pruneSeconds),
      "fill seconds": fillSeconds,
      "reads without prune": baseline.latencies.length,
      "reads during prune": during.latencies.length,
      "read p99 without ms": p99Base,
      "read p99 during ms": p99During,
      ratio: Math.round((p99During / p99Base) * 100) / 100,
      "live sessions missed": baseline.misses + during.misses,
    },
  });
  expect(count).toBe(ROWS);
  expect(baseline.misses + during.misses).toBe(0);
  expect(p99During).toBeLessThanOrEqual(2 * p99Base);
}

describe.skipIf(!enabled)(`prune at scale: ${ROWS} expired rows`, () => {
  it("SQLite: pruned in batches while reads run; read p99 within 2x", async () => {
    const { spec, drop } = await freshStore("sqlite");
    try {
      const store = sqliteStore({ path: spec.url, table: spec.name });
      await campaign("sqlite", store, async (expiredBefore) => {
        const db = new Database(spec.url);
        db.pragma("journal_mode = WAL");
        const insert = db.prepare(
          `INSERT INTO ${spec.name} (id, secret_hash, user_id, data, version, created_at, last_active_at, expires_at)
             SELECT lower(hex(randomblob(16))), lower(hex(randomblob(32))), NULL, randomblob(120), 1, @now - 3600000, @now - 1000, @now - (x % 3600000)
             FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < @n) SELECT x FROM c)`,
        );
        for (let done = 0; done < ROWS; done += 100_000) insert.run({ now: expiredBefore, n: Math.min(100_000, ROWS - done) });
        db.close();
      });
    } finally {
      await drop();
    }
  }, 1_800_000);

  const { url, describe: withPg } = describeWithService("postgres");
  withPg("PostgreSQL", () => {
    let drop: (() => Promise<void>) | undefined;
    afterAll(async () => drop?.());
    it("pruned in batches while reads run; read p99 within 2x", async () => {
      const fresh = await freshStore("postgres", url);
      drop = fresh.drop;
      const opened = openStore(fresh.spec);
      await campaign("postgres", opened.store, async (expiredBefore) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        const salt = randomBytes(4).toString("hex");
        await client.query(
          `INSERT INTO "${fresh.spec.name}" (id, secret_hash, user_id, data, version, created_at, last_active_at, expires_at)
             SELECT md5($3 || i::text), md5(i::text) || md5($3 || i::text), NULL, decode(repeat(md5(i::text), 8), 'hex'), 1,
                    to_timestamp(($1::int8 - 3600000) / 1000.0), to_timestamp(($1::int8 - 1000) / 1000.0),
                    to_timestamp(($1::int8 - (i % 3600000)) / 1000.0)
             FROM generate_series(1, $2::int) AS i`,
          [expiredBefore, ROWS, salt],
        );
        await client.query(`ANALYZE "${fresh.spec.name}"`);
        await client.end();
      });
    }, 1_800_000);
  });
});
