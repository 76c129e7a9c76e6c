import type { StoreStats } from "../contract/store.js";
import { hashSecret } from "../crypto/token.js";
import { toWebHeaders } from "../http/response-headers.js";
import { readTransport } from "../http/transport.js";
import { createCommitter } from "./commit.js";
import { type ResolvedConfig, resolveConfig, type SessionsOptions } from "./config.js";
import { createEngine } from "./engine.js";
import type { SessionEventName, SessionListener } from "./events.js";
import { INTERNAL, type SessionsInternals } from "./internal.js";
import { type HeaderSource, headersOf, type LoadOptions, loadSession, pickTransport } from "./load.js";
import { createManagement, type SessionInfo, type SessionRef } from "./manage.js";
import { startPruneScheduler } from "./prune-scheduler.js";
import type { Session, SessionData } from "./session.js";

export type { HeaderReader, HeaderSource, LoadOptions } from "./load.js";
export type { SessionInfo } from "./manage.js";

/** The object `createSessions` returns. */
export interface Sessions<Data extends SessionData = Record<string, unknown>> {
  /** The frozen configuration (adapters read the transports from it). */
  readonly config: ResolvedConfig;
  /**
   * Loads the session a request carries. A missing, forged, garbled, expired or revoked token
   * gives a new empty session (never an exception). One store read at most. Rejects with
   * `SessionStoreError` only when the store fails.
   */
  load(request: HeaderSource, options?: LoadOptions): Promise<Session<Data>>;
  /**
   * Writes what changed (nothing, a touch, a compare-and-set update, a delete) and returns the
   * headers to add to the response: Set-Cookie (or the token header), `Vary`, and
   * `Cache-Control: no-store` whenever a token is set or cleared.
   */
  commit(session: Session<Data>): Promise<Headers>;
  /** The `cookieKeys` values the cookie carries, without a store read; null without a valid cookie. Hints only: a revoked session still peeks until its cookie expires. */
  peek(request: HeaderSource): Partial<Data> | null;
  /** Checks a CSRF token against the request's session without a store read. */
  verifyCsrf(request: HeaderSource, token: unknown): boolean;
  on<E extends SessionEventName>(event: E, listener: SessionListener<E>): () => void;
  /** The live sessions of a user, most recently active first. */
  list(userId: string, options?: { current?: Session<Data> | string }): Promise<SessionInfo[]>;
  /** Deletes one session by its public id; true if it existed. Wins over any request of it in flight. */
  revoke(id: string): Promise<boolean>;
  /** Deletes a user's sessions except `except` (ids or sessions); returns how many. */
  revokeUser(userId: string, options?: { except?: string | Session<Data> | Array<string | Session<Data>> }): Promise<number>;
  /** Deletes expired sessions in batches of `pruneBatchSize`, yielding between batches; returns how many. */
  prune(): Promise<number>;
  /** Counts for monitoring. */
  stats(topUsers?: number): Promise<StoreStats>;
  /** Stops the prune scheduler (and a prune in progress) and closes the store. */
  close(): Promise<void>;
}

/**
 * Creates a session manager.
 *
 * @example
 * ```ts
 * import { createSessions } from "sessionkit";
 * import { sqliteStore } from "sessionkit/sqlite";
 *
 * const sessions = createSessions<{ cart: string[] }>({
 *   store: sqliteStore({ path: "sessions.sqlite" }),
 *   secrets: [process.env.SESSION_SECRET!],
 * });
 * ```
 */
export function createSessions<Data extends SessionData = Record<string, unknown>>(
  options: SessionsOptions<Data>,
): Sessions<Data> {
  const config = resolveConfig(options);
  const engine = createEngine(config);
  const { codec, events } = engine;
  const committer = createCommitter(engine);
  const commit = (session: Session) => engine.traced({ kind: "commit", store: storeName }, () => committer.commit(session));
  const traceCommits = config.instrumentation?.around !== undefined;
  const internals: SessionsInternals = {
    commit,
    commitNowOrLater(session) {
      if (traceCommits) return commit(session);
      try {
        return committer.commitNowOrLater(session);
      } catch (error) {
        return Promise.reject(error); // a misuse or a data size error, reported as commit() reports it
      }
    },
  };
  const storeName = config.store.name;
  const manage = createManagement(engine);
  const scheduler = config.pruneInterval === null ? null : startPruneScheduler(config.pruneInterval, manage.prune, events);

  return Object.freeze({
    config,
    load: (request: HeaderSource, loadOptions?: LoadOptions) =>
      engine.traced({ kind: "load", store: storeName }, () => loadSession<Data>(engine, request, loadOptions)),
    commit: (async (session: Session<Data>) => toWebHeaders(await commit(session as Session))) as (
      session: Session<Data>,
    ) => Promise<Headers>,
    [INTERNAL]: internals,
    peek(request: HeaderSource): Partial<Data> | null {
      const cookie = config.transports.find((t) => t.kind === "cookie");
      if (!cookie) return null;
      const raw = readTransport(cookie, headersOf(request));
      if (raw === undefined) return null;
      const parsed = codec.parseValue(raw);
      if (!parsed.ok) return null;
      const payload = codec.openPayload(parsed.token.id, hashSecret(parsed.token.secret), parsed.sealedPayload);
      if (payload === null) return {};
      try {
        const values = JSON.parse(payload) as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        for (const key of config.cookieKeys) if (Object.hasOwn(values, key)) out[key] = values[key];
        return out as Partial<Data>;
      } catch {
        return {};
      }
    },
    verifyCsrf(request: HeaderSource, token: unknown): boolean {
      if (typeof token !== "string" || token.length === 0 || token.length > 256) return false;
      const { raw } = pickTransport(config.transports, headersOf(request), undefined);
      if (raw === undefined) return false;
      const parsed = codec.parseValue(raw);
      return parsed.ok && engine.context.checkCsrf(parsed.token.id, hashSecret(parsed.token.secret), token);
    },
    on: events.on,
    list: (userId: string, listOptions?: { current?: SessionRef }) => manage.list(userId, listOptions),
    revoke: manage.revoke,
    revokeUser: manage.revokeUser,
    prune: manage.prune,
    stats: manage.stats,
    async close() {
      await scheduler?.stop();
      await manage.stopPruning();
      await engine.cache?.stop();
      await engine.call("close", () => config.store.close());
    },
  }) as Sessions<Data>;
}
