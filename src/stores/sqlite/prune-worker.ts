import { Worker } from "node:worker_threads";
import { SessionStoreError } from "../../contract/errors.js";

/**
 * SQLite pruning off the main thread. better-sqlite3 is synchronous: a DELETE on the main
 * connection blocks the event loop for as long as it runs, and with reads answering in a
 * fraction of a millisecond even a 1 ms slice shows in their p99. In WAL mode a reader on one
 * connection never waits for a writer on another, so the store runs its prune statements in a
 * worker thread with a connection of its own to the same file; the main thread only awaits a
 * message per `pruneExpired` call.
 *
 * The worker is one inline CommonJS script (`new Worker(source, { eval: true })`), not a file:
 * it works the same from the TypeScript sources, the ESM build and the CommonJS build, and it
 * loads better-sqlite3 from the path the store resolved (`driver`), not from the working directory.
 */

/** What the worker needs to open its own connection (the main connection's settings). */
export interface PruneWorkerOptions {
  /** Absolute path of better-sqlite3's entry, as the store resolves it. */
  driver: string;
  /** Absolute path of the database file (from `PRAGMA database_list`). */
  file: string;
  table: string;
  busyTimeout: number;
  /** The main connection's `PRAGMA synchronous` (0-3). */
  synchronous: number;
  /** Called once when this worker is gone (closed, idle, crashed), so the store starts a new one next time. */
  onGone(): void;
}

export interface PruneWorker {
  /** Deletes at most `limit` rows expired at `now` in short transactions; resolves with how many. */
  prune(now: number, limit: number): Promise<number>;
  /** Lets the batch in progress finish, closes the worker's connection and waits for the thread to end. */
  close(): Promise<void>;
}

const PREFIX = "[sessionkit] [sqlite]";

/**
 * Rows per statement: adapts so that one statement holds SQLite's single write lock for about
 * `STATEMENT_MS` (the app's own writes wait that long at most, through busy_timeout).
 */
const STEP_MAX = 1000;
const STEP_MIN = 4;
const STATEMENT_MS = 2;
/**
 * After each statement the worker sleeps three times as long as the statement took (at most
 * PAUSE_MAX_MS): the write lock is free three quarters of the time, so an app write that found
 * it taken gets it on its busy handler's next try or the one after, and the worker keeps a
 * quarter of a core busy at most. Measured on the 2-core test VM with reads running back to back,
 * alternating 1.5 s with and without pruning: at half the time (factor 1) the read p99 with
 * pruning was 1.3-1.8x the p99 without, at a quarter 1.2-1.3x, for about 6 500 instead of
 * 10 000 rows a second.
 */
const PAUSE_FACTOR = 3;
const PAUSE_MAX_MS = 12;
/** One call stops after this long even below `limit` (the engine calls again), so close() never waits long. */
const CALL_BUDGET_MS = 100;
/**
 * Rows deleted between the worker's checkpoints. SQLite's automatic checkpoint runs inside the
 * statement call that crossed the threshold (just after its commit), and its fsyncs made those
 * calls 10-50 ms on the test VM, which the step above would have taken for lock time. The worker
 * turns it off and runs a PASSIVE checkpoint between statements instead (it blocks neither
 * readers nor writers). Scattered deletes write about one WAL page per row, so this also keeps
 * the WAL under the 1000 pages at which a commit of the app's own connection would checkpoint,
 * on the main thread.
 */
const CHECKPOINT_ROWS = 500;
/**
 * The worker thread's nice value on Linux (0 normal, 19 lowest): when the machine's cores are
 * busy, the app's own threads (requests) mostly go first. Not 19: a thread that gets almost no
 * CPU while it holds the write lock would make the app's writes wait for it.
 */
const WORKER_NICE = 10;
/** An idle worker ends after this long; the next prune starts a new one. */
const IDLE_MS = 10_000;
/** How long close() lets the worker finish its batch and close its connection before terminating it. */
const CLOSE_GRACE_MS = 2_000;

/** The worker's script. Plain CommonJS: no build step touches it, and nothing is read from disk. */
const WORKER_SOURCE = `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const o = workerData;
const gate = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => { if (ms > 0) Atomics.wait(gate, 0, 0, ms); };
const describe = (e) => ({ message: String((e && e.message) || e), code: e && typeof e.code === "string" ? e.code : undefined });
let db = null;
let statement = null;
let step = o.stepMax;
let sinceCheckpoint = 0;
const checkpoint = () => {
  sinceCheckpoint = 0;
  db.pragma("wal_checkpoint(PASSIVE)");
};
// Linux keeps a nice value per thread (pid 0 = this thread only): pruning then runs on the CPU
// time the app's threads leave over. Elsewhere it would be the whole process's, so it is left as it is.
if (o.nice > 0) {
  try { require("node:os").setPriority(o.nice); } catch {}
}
try {
  const mod = require(o.driver);
  const Database = typeof mod === "function" ? mod : mod.default;
  db = new Database(o.file, { fileMustExist: true, timeout: o.busyTimeout });
  const mode = db.pragma("journal_mode", { simple: true });
  if (mode !== "wal") throw new Error("the database is in " + mode + " journal mode, not WAL");
  db.pragma("busy_timeout = " + o.busyTimeout);
  db.pragma("synchronous = " + o.synchronous);
  // Checkpoints are run below, between statements, outside the write lock (see checkpointRows).
  db.pragma("wal_autocheckpoint = 0");
  const t = '"' + o.table + '"';
  statement = db.prepare("DELETE FROM " + t + " WHERE rowid IN (SELECT rowid FROM " + t + " WHERE expires_at <= ? LIMIT ?)");
  parentPort.postMessage({ type: "ready" });
} catch (error) {
  try { if (db) db.close(); } catch {}
  db = null;
  parentPort.postMessage({ type: "failed", error: describe(error) });
}
function prune(now, limit) {
  const started = performance.now();
  let deleted = 0;
  while (deleted < limit) {
    const want = Math.min(step, limit - deleted);
    const before = performance.now();
    const n = statement.run(now, want).changes;
    const took = performance.now() - before;
    if (took > o.statementMs) step = Math.max(o.stepMin, step >> 1);
    else if (took < o.statementMs / 4) step = Math.min(o.stepMax, step + (step >> 2) + 1);
    deleted += n;
    sinceCheckpoint += n;
    if (n < want) {
      if (sinceCheckpoint > 0) checkpoint(); // the backlog is gone: leave the WAL checkpointed
      break;
    }
    if (sinceCheckpoint >= o.checkpointRows) checkpoint();
    if (performance.now() - started >= o.budgetMs) break;
    sleep(Math.min(o.pauseMaxMs, took * o.pauseFactor));
  }
  return deleted;
}
if (db) {
  parentPort.on("message", (m) => {
    if (m.type === "close") {
      try { db.close(); } catch {}
      parentPort.close();
      return;
    }
    try {
      parentPort.postMessage({ type: "done", id: m.id, deleted: prune(m.now, m.limit) });
    } catch (error) {
      parentPort.postMessage({ type: "error", id: m.id, error: describe(error) });
    }
  });
}
`;

type WorkerError = { message: string; code?: string };
type Reply =
  | { type: "ready" }
  | { type: "failed"; error: WorkerError }
  | { type: "done"; id: number; deleted: number }
  | { type: "error"; id: number; error: WorkerError };

const errorFrom = (e: WorkerError) => Object.assign(new Error(e.message), e.code === undefined ? {} : { code: e.code });

/**
 * Starts a prune worker; resolves once its connection is open and its statement prepared.
 * Rejects (and leaves nothing running) when it cannot start: no worker threads, better-sqlite3
 * failing to load in a worker, a file it cannot open or that is not in WAL mode. The store then
 * prunes on the main thread instead.
 */
export function startPruneWorker(options: PruneWorkerOptions): Promise<PruneWorker> {
  const { onGone, ...settings } = options;
  const where = settings.file;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      ...settings,
      stepMax: STEP_MAX,
      stepMin: STEP_MIN,
      statementMs: STATEMENT_MS,
      pauseMaxMs: PAUSE_MAX_MS,
      pauseFactor: PAUSE_FACTOR,
      budgetMs: CALL_BUDGET_MS,
      checkpointRows: CHECKPOINT_ROWS,
      nice: process.platform === "linux" ? WORKER_NICE : 0,
    },
  });

  const pending = new Map<number, { resolve(n: number): void; reject(e: unknown): void }>();
  let nextId = 1;
  let gone = false;
  let exited = false;
  let closing: Promise<void> | null = null;
  let idle: ReturnType<typeof setTimeout> | null = null;
  let started: { resolve(w: PruneWorker): void; reject(e: unknown): void } | null = null;

  const stopped = (why: string) =>
    new SessionStoreError("sqlite", "pruneExpired", new Error(`the prune worker for ${where} ${why}`));

  /** Forgets this worker once: the store starts a new one for the next prune. */
  const markGone = () => {
    if (gone) return;
    gone = true;
    if (idle) clearTimeout(idle);
    onGone();
  };

  /** Keeps the process alive only while someone awaits the worker; an idle one ends after IDLE_MS. */
  const settle = () => {
    if (pending.size > 0 || gone) return;
    worker.unref();
    idle = setTimeout(() => void close(), IDLE_MS);
    idle.unref();
  };

  worker.on("message", (reply: Reply) => {
    if (reply.type === "ready") {
      started?.resolve(client);
      started = null;
      settle();
    } else if (reply.type === "failed") {
      markGone();
      started?.reject(errorFrom(reply.error));
      started = null;
    } else {
      const call = pending.get(reply.id);
      if (!call) return;
      pending.delete(reply.id);
      if (reply.type === "done") call.resolve(reply.deleted);
      else call.reject(new SessionStoreError("sqlite", "pruneExpired", errorFrom(reply.error)));
      settle();
    }
  });
  worker.on("error", (error) => {
    markGone();
    started?.reject(error);
    started = null;
    for (const call of pending.values()) call.reject(new SessionStoreError("sqlite", "pruneExpired", error));
    pending.clear();
  });
  worker.on("exit", (code) => {
    exited = true;
    markGone();
    started?.reject(new Error(`${PREFIX} the prune worker for ${where} exited (code ${code}) before it started`));
    started = null;
    for (const call of pending.values()) call.reject(stopped(`stopped (exit code ${code}) before it answered`));
    pending.clear();
  });

  function close(): Promise<void> {
    closing ??= (async () => {
      markGone();
      const ended = new Promise<void>((resolve) => {
        if (exited) resolve();
        else worker.once("exit", () => resolve());
      });
      if (!exited) {
        worker.ref();
        worker.postMessage({ type: "close" });
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), CLOSE_GRACE_MS);
      });
      const outcome = await Promise.race([ended, late]);
      clearTimeout(timer);
      if (outcome === "late") await worker.terminate();
      await ended;
    })();
    return closing;
  }

  const client: PruneWorker = {
    prune(now, limit) {
      if (gone) return Promise.reject(stopped("was closed"));
      if (idle) {
        clearTimeout(idle);
        idle = null;
      }
      const id = nextId++;
      worker.ref();
      return new Promise<number>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: "prune", id, now, limit });
      });
    },
    close,
  };

  return new Promise<PruneWorker>((resolve, reject) => {
    started = { resolve, reject };
  });
}
