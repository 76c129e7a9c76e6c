/**
 * The commands of `sessionkit` and {@link run}, which parses arguments and turns every outcome
 * into an exit code. `main.ts` is the process entry; this module has no side effects on import,
 * so tests can run the CLI in-process.
 *
 * Exit codes: 0 done, 1 operational failure (store unreachable, file not a database...),
 * 2 usage error (unknown command or option, missing argument, bad store URL).
 */
import { createRequire } from "node:module";
import cliProgress from "cli-progress";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { SessionStore, StoredSessionInfo } from "../contract/store.js";
import { ID_PATTERN } from "../crypto/token.js";
import { describeFailure } from "./failure.js";
import { iso, migrateMessage, table } from "./format.js";
import { driverFor, type OpenedStore, STORE_DRIVERS, UsageError } from "./open-store.js";

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Where the CLI writes; replaceable so tests can run it in-process. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether stderr is a terminal (progress bars). */
  isTTY: boolean;
  stderr: NodeJS.WritableStream;
}

const defaultIO = (): CliIO => ({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stderr.isTTY),
  stderr: process.stderr,
});

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer.");
  return n;
}

function version(): string {
  try {
    // dist/cli/main.js and src/cli/main.ts are both two levels below package.json.
    return (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** A store failure already put in shell terms by {@link describeFailure}: printed as is, exit 1. */
class StoreFailure extends Error {
  override name = "StoreFailure";
}

/**
 * Opens the store, runs `fn`, and always closes the store. A failure leaves as one
 * {@link StoreFailure} whose message says what to do at the shell.
 */
async function withStore<T>(url: string | undefined, create: boolean, fn: (opened: OpenedStore) => Promise<T>): Promise<T> {
  const driver = driverFor(url); // a usage error (exit 2) before anything is opened
  const storeUrl = url as string;
  let opened: OpenedStore | undefined;
  try {
    opened = await driver.open(storeUrl, { create });
    return await fn(opened);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new StoreFailure(
      describeFailure(error, { url: storeUrl, where: opened?.where ?? redactedUrl(storeUrl), product: driver.product }),
      {
        cause: error,
      },
    );
  } finally {
    // A failing close after a failed command must not hide the first error.
    await opened?.store.close().catch(() => {});
  }
}

/**
 * Tells the apps' near-caches (`createSessions({ cache })`) that these sessions are gone, on the
 * store's own channel, as `sessions.revoke()` does; without it a process with a cache would
 * accept a revoked session for up to its `ttl`. Returns the error to report, or null.
 */
async function tellCaches(store: SessionStore, ids: readonly string[]): Promise<Error | null> {
  if (!store.invalidation || ids.length === 0) return null;
  try {
    await store.invalidation.publish(ids);
    return null;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return new Error(
      `the sessions are deleted, but telling the apps' near-caches failed (${why}): a process with \`cache\` on may accept them until its ttl passes; run the command again to resend`,
    );
  }
}

/** The URL without its password, for messages about a store that did not open. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

/** One session as printed by `list --json`: every field, times in ISO 8601. */
function sessionJson(r: StoredSessionInfo) {
  return {
    id: r.id,
    userId: r.userId,
    createdAt: iso(r.createdAt),
    lastActiveAt: iso(r.lastActiveAt),
    expiresAt: r.expiresAt === null ? null : iso(r.expiresAt),
    ip: r.ip,
    userAgent: r.userAgent,
    meta: r.meta,
  };
}

/** Deletes expired sessions batch by batch; `onBatch` gets the running total. */
async function pruneAll(store: SessionStore, now: number, batchSize: number, onBatch: (done: number) => void) {
  let done = 0;
  let batches = 0;
  for (;;) {
    const n = await store.pruneExpired(now, batchSize);
    // A store may return fewer than asked before the backlog is gone (SQLite's prune stops
    // after a time budget): only 0 means done, as in the engine's prune loop. The closing
    // empty call is not counted as a batch (but a prune of nothing is "1 batch").
    if (n === 0) return { done, batches: Math.max(1, batches) };
    done += n;
    batches++;
    onBatch(done);
  }
}

function buildProgram(io: CliIO = defaultIO()): Command {
  const program = new Command("sessionkit");
  const storeHelp = `the session store as a URL: ${Object.values(STORE_DRIVERS)
    .map((d) => d.example)
    .join(", ")}`;
  const storeOption = () => new Option("-s, --store <url>", storeHelp).env("SESSIONKIT_STORE");

  program
    .description("Manage sessionkit sessions: create the schema, list, revoke, prune and count sessions.")
    .version(version(), "-V, --version")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .addHelpText(
      "after",
      `
The store is chosen by --store or the SESSIONKIT_STORE environment variable, e.g.
  SESSIONKIT_STORE=sqlite:./sessions.sqlite sessionkit stats
  sessionkit list alice --store "sqlite:/srv/app/data.sqlite?table=app_sessions"

Exit codes: 0 done, 1 the operation failed, 2 wrong usage.`,
    );

  program
    .command("migrate")
    .description("create the schema, or upgrade it to this version of sessionkit (safe to repeat)")
    .addOption(storeOption())
    .action(async (opts: { store?: string }) => {
      await withStore(opts.store, true, async ({ store, where }) => {
        if (!store.migrate) {
          io.out(`the ${store.name} store needs no migration\n`);
          return;
        }
        io.out(`${migrateMessage(await store.migrate(), where)}\n`);
      });
    });

  program
    .command("schema")
    .description("print the DDL that migrate runs, for your own migration tool (connects to nothing)")
    .addOption(storeOption())
    .action(async (opts: { store?: string }) => {
      io.out(await driverFor(opts.store).schemaSql(opts.store as string));
    });

  program
    .command("prune")
    .description("delete expired sessions in batches (a progress bar on a terminal, a summary otherwise)")
    .addOption(storeOption())
    .option("-b, --batch-size <n>", "rows deleted per batch (each batch is one short transaction)", positiveInt, 1000)
    .option("--progress", "show the progress bar even when stderr is not a terminal")
    .option("--no-progress", "never show the progress bar")
    .action(async (opts: { store?: string; batchSize: number; progress?: boolean }) => {
      await withStore(opts.store, false, async ({ store }) => {
        const now = Date.now();
        const total = (await store.stats(now, 0)).expired;
        const showBar = (opts.progress ?? io.isTTY) && total > 0;
        const bar = showBar
          ? new cliProgress.SingleBar(
              {
                stream: io.stderr,
                noTTYOutput: opts.progress === true,
                format: "pruning [{bar}] {percentage}% | {value}/{total} sessions | {eta_formatted} left",
                hideCursor: true,
              },
              cliProgress.Presets.shades_classic,
            )
          : null;
        bar?.start(total, 0);
        const started = Date.now();
        let result: { done: number; batches: number };
        try {
          // Sessions that expire while pruning runs are left for the next run: the total stays true.
          result = await pruneAll(store, now, opts.batchSize, (done) => bar?.update(Math.min(done, total)));
        } finally {
          bar?.stop();
        }
        const seconds = ((Date.now() - started) / 1000).toFixed(2);
        const plural = result.done === 1 ? "" : "s";
        io.out(
          `pruned ${result.done} expired session${plural} in ${result.batches} batch${result.batches === 1 ? "" : "es"} (${seconds} s)\n`,
        );
      });
    });

  program
    .command("list")
    .description("list a user's live sessions, most recently active first")
    .argument("<userId>", "the user whose sessions to list")
    .addOption(storeOption())
    .option("-n, --limit <n>", "show at most this many sessions (the most recently active)", positiveInt)
    .option("--json", "print JSON Lines: one JSON object per session, every field in full")
    .action(async (userId: string, opts: { store?: string; limit?: number; json?: boolean }) => {
      await withStore(opts.store, false, async ({ store }) => {
        const rows = (await store.listByUser(userId, Date.now()))
          .sort((a, b) => b.lastActiveAt - a.lastActiveAt)
          .slice(0, opts.limit ?? Number.POSITIVE_INFINITY);
        if (opts.json) {
          // JSON Lines: streams through `head`, `grep` and `jq -c` one session at a time.
          io.out(rows.map((r) => `${JSON.stringify(sessionJson(r))}\n`).join(""));
          return;
        }
        if (rows.length === 0) {
          io.out(`no live sessions for user ${JSON.stringify(userId)}\n`);
          return;
        }
        const body = rows.map((r) => [
          r.id,
          iso(r.createdAt),
          iso(r.lastActiveAt),
          iso(r.expiresAt),
          r.ip ?? "-",
          r.userAgent ?? "-",
        ]);
        io.out(`${table(["ID", "CREATED", "LAST ACTIVE", "EXPIRES", "IP", "USER AGENT"], body, [32, 24, 24, 24, 45, 60])}\n`);
      });
    });

  program
    .command("revoke")
    .description("delete one session (its id is the ID column of `list`)")
    .argument("<id>", "the session id: 32 hex characters")
    .addOption(storeOption())
    .action(async (id: string, opts: { store?: string }) => {
      if (!ID_PATTERN.test(id)) {
        throw new UsageError(
          `"${id}" is not a session id: expected 32 lowercase hex characters (the ID column of \`sessionkit list\`)`,
        );
      }
      await withStore(opts.store, false, async ({ store }) => {
        const deleted = await store.delete(id);
        // Also when nothing was deleted: a revoke whose message failed before is retried so.
        const untold = await tellCaches(store, [id]);
        if (!deleted) throw new Error(`no session ${id} (already revoked, expired and pruned, or never existed)`);
        io.out(`revoked session ${id}\n`);
        if (untold) throw untold;
      });
    });

  program
    .command("revoke-user")
    .description("delete every session of a user (sign them out everywhere)")
    .argument("<userId>", "the user to sign out")
    .addOption(storeOption())
    .action(async (userId: string, opts: { store?: string }) => {
      await withStore(opts.store, false, async ({ store }) => {
        const ids = await store.deleteByUser(userId);
        const untold = await tellCaches(store, ids);
        io.out(`revoked ${ids.length} session${ids.length === 1 ? "" : "s"} of user ${JSON.stringify(userId)}\n`);
        if (untold) throw untold;
      });
    });

  program
    .command("stats")
    .description("count sessions: total, active, expired but not yet pruned, and the users with the most")
    .addOption(storeOption())
    .option("-t, --top <n>", "how many users to show", positiveInt, 10)
    .option("--json", "print JSON")
    .action(async (opts: { store?: string; top: number; json?: boolean }) => {
      await withStore(opts.store, false, async ({ store }) => {
        const stats = await store.stats(Date.now(), opts.top);
        if (opts.json) {
          io.out(`${JSON.stringify(stats, null, 2)}\n`);
          return;
        }
        const counts = table(
          ["", ""],
          [
            ["total", String(stats.total)],
            ["active", String(stats.active)],
            ["expired, not yet pruned", String(stats.expired)],
          ],
        )
          .split("\n")
          .slice(1)
          .join("\n");
        const top =
          stats.topUsers.length === 0
            ? "no user has an active session"
            : table(
                ["USER", "ACTIVE SESSIONS"],
                stats.topUsers.map((u) => [u.userId, String(u.count)]),
                [60],
              );
        io.out(`${counts}\n\ntop ${opts.top} users by active sessions:\n${top}\n`);
      });
    });

  return program;
}

/** Runs the CLI and resolves to the exit code (never calls process.exit itself). */
export async function run(argv: string[], io: CliIO = defaultIO()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed the message (or the help).
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return EXIT_OK;
      return EXIT_USAGE;
    }
    if (error instanceof UsageError) {
      io.err(`sessionkit: ${error.message}\n(add --help for usage)\n`);
      return EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.err(`sessionkit: ${message.replace(/^\[sessionkit\] /, "")}\n`);
    return EXIT_FAILURE;
  }
}
