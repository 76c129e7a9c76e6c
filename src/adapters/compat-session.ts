import { SessionStateError } from "../contract/errors.js";
import type { HeaderReader, LoadOptions } from "../core/load.js";
import type { Session } from "../core/session.js";
import type { Sessions } from "../core/sessions.js";
import { type CommitHeaders, mergeCommitHeaders } from "../http/response-headers.js";
import { internalsOf } from "./internals.js";

/**
 * What one request keeps while an express-session / @fastify/session compatible view of its
 * session is alive. Shared by the Express and Fastify adapters.
 */
export interface RequestSessionState {
  sessions: Sessions<Record<string, unknown>>;
  /** The request's session. regenerate() keeps the object: the engine resets it in place. */
  session: Session<Record<string, unknown>>;
  /** Headers from commits made during the request (`save`, `regenerate`, `destroy(cb)`). */
  pending: CommitHeaders | null;
  /** The request headers the session was loaded from, for `reload`. */
  headers: HeaderReader;
  /** The client IP, or how to read it when needed (see LoadOptions.ip). */
  ip: LoadOptions["ip"];
  transport: string | undefined;
  /** An error from an operation nobody awaited or called back for, raised by the final commit. */
  deferredError: unknown;
  /** Operations still running; the final commit waits for them. */
  inflight: Promise<unknown> | null;
  /** Replaces the framework's `req.session` (regenerate hands out a new view, destroy removes it). */
  replaceView(view: object | null): void;
}

/**
 * Runs an operation after the ones started before it (their failures were reported to
 * their own callers), and makes the final commit wait for it.
 */
export function enqueue(state: RequestSessionState, run: () => Promise<void>): Promise<void> {
  const running = (state.inflight ?? Promise.resolve()).then(run);
  state.inflight = running.catch(() => undefined);
  return running;
}

/** Commits now; the response commits again and writes only what changed since. */
export async function commitNow(state: RequestSessionState): Promise<void> {
  state.pending = mergeCommitHeaders(state.pending, await internalsOf(state.sessions).commit(state.session));
}

/** The response's own commit: after every pending operation, with the headers they produced. */
export async function finalCommit(state: RequestSessionState): Promise<CommitHeaders> {
  await state.inflight;
  if (state.deferredError !== undefined) throw state.deferredError;
  return mergeCommitHeaders(state.pending, await internalsOf(state.sessions).commit(state.session));
}

/**
 * The response's own commit, settled synchronously when nothing is pending and the commit
 * needs no store operation (see `SessionsInternals.commitNowOrLater`), else its promise.
 */
export function finalCommitNowOrLater(state: RequestSessionState): CommitHeaders | Promise<CommitHeaders> {
  if (state.inflight !== null || state.deferredError !== undefined || state.pending !== null) return finalCommit(state);
  return internalsOf(state.sessions).commitNowOrLater(state.session);
}

/**
 * express-session / @fastify/session `regenerate`: the stored session is deleted now and the
 * request continues with a new, empty one under a new id and token, keeping only `keep`.
 */
export async function regenerateSession(state: RequestSessionState, keep: readonly string[] = []): Promise<void> {
  const session = state.session;
  const kept = keep.filter((key) => session.has(key)).map((key) => [key, session.get(key)] as const);
  session.destroy();
  await commitNow(state); // the engine resets the session in place: new, empty, no id yet
  for (const [key, value] of kept) session.set(key, value);
}

/**
 * Re-reads the session from the store, dropping unsaved changes. It reloads by the latest
 * token: the one a commit during this request issued (save, login), else the request's own.
 */
export async function reloadSession(state: RequestSessionState, adapter: string): Promise<void> {
  const current = state.session;
  const fresh = await state.sessions.load(tokenHeaders(state), { ip: state.ip, transport: state.transport });
  if (current.isNew || fresh.isNew || fresh.id !== current.id) {
    throw new SessionStateError(
      `[sessionkit] [${adapter}] reload() found no stored session for this request (it was never saved, or is gone); save() it first`,
    );
  }
  state.session = fresh;
}

/** The request headers with the token replaced by the one a commit during the request issued, if any. */
function tokenHeaders(state: RequestSessionState): HeaderReader {
  const { pending, headers } = state;
  if (pending === null) return headers;
  return {
    get(name) {
      if (pending.token !== null && name === pending.token.name) return pending.token.value;
      if (name !== "cookie" || pending.setCookie === null) return headers.get(name);
      const sent = new Map(
        (headers.get("cookie") ?? "")
          .split(/;\s*/)
          .filter(Boolean)
          .map((pair) => split(pair)),
      );
      const [cookie, value] = split(pending.setCookie.split(";")[0] as string);
      sent.set(cookie, value);
      return [...sent].map(([n, v]) => `${n}=${v}`).join("; ");
    },
  };
}

const split = (pair: string): [string, string] => {
  const eq = pair.indexOf("=");
  return eq < 0 ? [pair.trim(), ""] : [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
};
