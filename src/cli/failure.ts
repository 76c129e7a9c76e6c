/**
 * Turns a failed store operation into one message for a person at a shell. The stores throw
 * `SessionStoreError`, whose text is written for a web app ("the request was not given a
 * fresh session", "run store.migrate()"); here the same failure gets the shell's next step
 * ("is PostgreSQL running at ...?", "run `sessionkit migrate --store ...`"), said once.
 */
import { SessionError, SessionStoreError } from "../contract/errors.js";

export interface FailureContext {
  /** The store URL as given (may hold a password: never printed as is). */
  url: string;
  /** Where the store is, for messages, e.g. "postgres://app@db:5432/app (table ...)". */
  where: string;
  /** e.g. "PostgreSQL". */
  product: string;
}

/** An error whose message the CLI wrote for the shell already: printed as is, exit 1. */
export class ShellFailure extends Error {
  override name = "ShellFailure";
}

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
]);
const MISSING_TABLE_CODES = new Set(["42P01", "ER_NO_SUCH_TABLE"]);
const AUTH_CODES = new Set(["28P01", "28000", "ER_ACCESS_DENIED_ERROR", "ER_DBACCESS_DENIED_ERROR"]);
const NO_DATABASE_CODES = new Set(["3D000", "ER_BAD_DB_ERROR"]);

/** The error and its causes (and an AggregateError's members), outermost first. */
function chain(error: unknown): unknown[] {
  const seen: unknown[] = [];
  const queue = [error];
  while (queue.length > 0 && seen.length < 20) {
    const e = queue.shift();
    if (e === undefined || e === null || seen.includes(e)) continue;
    seen.push(e);
    if (e instanceof AggregateError) queue.push(...e.errors);
    if (e instanceof Error && e.cause !== undefined) queue.push(e.cause);
  }
  return seen;
}

const codeOf = (e: unknown) => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
};
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const strip = (message: string) => message.replace(/^(\[sessionkit\] )?(\[[\w-]+\] )?/, "");

/** The URL to put in a command the user can copy: the real one unless it holds a password. */
function urlForCommand(url: string): string {
  try {
    if (new URL(url).password) return "<the same --store URL>";
  } catch {
    // sqlite:PATH is not always a valid URL; it holds no password either.
  }
  return `'${url.replace(/'/g, "'\\''")}'`;
}

type Kind = "connect" | "missing-table" | "auth" | "no-database" | "other";

function kindOf(errors: unknown[]): Kind {
  const codes = errors.map(codeOf).filter((c): c is string => c !== undefined);
  const text = errors.map(messageOf).join("\n");
  if (codes.some((c) => MISSING_TABLE_CODES.has(c)) || /no such table|does not exist; run store\.migrate/i.test(text))
    return "missing-table";
  if (codes.some((c) => AUTH_CODES.has(c)) || /\b(NOAUTH|WRONGPASS)\b|password authentication failed/.test(text)) return "auth";
  if (codes.some((c) => NO_DATABASE_CODES.has(c))) return "no-database";
  if (codes.some((c) => CONNECT_CODES.has(c)) || /Connection is closed|connect ETIMEDOUT/.test(text)) return "connect";
  return "other";
}

/** The innermost message that says something (skipping our own wrappers' wording). */
function reasonOf(error: unknown, errors: unknown[]): string {
  if (error instanceof SessionStoreError) {
    const cause = errors.find((e) => e !== error);
    if (cause !== undefined) return strip(messageOf(cause));
  }
  return strip(messageOf(error));
}

/** One line (or two) for stderr, without the "sessionkit: " prefix. */
export function describeFailure(error: unknown, ctx: FailureContext): string {
  // Our own errors other than store failures (bad options, the SQLite store's file checks...)
  // are already written for whoever called: what went wrong and what to do.
  if (error instanceof SessionError && !(error instanceof SessionStoreError)) return strip(error.message);
  if (error instanceof ShellFailure) return error.message;
  const errors = chain(error);
  const reason = reasonOf(error, errors);
  const operation = error instanceof SessionStoreError ? `${error.operation} failed: ` : "";
  switch (kindOf(errors)) {
    case "connect":
      return `cannot reach ${ctx.product} at ${ctx.where} (${reason}). Is ${ctx.product} running there? Check the host and port in --store.`;
    case "missing-table":
      return `the sessions table does not exist at ${ctx.where}. Create it with: sessionkit migrate --store ${urlForCommand(ctx.url)}`;
    case "auth":
      return `${ctx.product} at ${ctx.where} refused the credentials (${reason}). Check the user and password in --store.`;
    case "no-database":
      return `${ctx.product} at ${ctx.where}: ${reason}. Create the database first, or name an existing one in --store.`;
    default:
      // A plain Error here is the CLI's own (e.g. "no database at ..."): already a full sentence.
      return error instanceof SessionStoreError ? `${ctx.product} ${operation}${reason}` : reason;
  }
}
