import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Session } from "../core/session.js";
import type { Sessions } from "../core/sessions.js";
import { type CsrfOptions, isUnsafeMethod, resolveCsrfOptions, SessionCsrfError, submittedCsrfToken } from "../http/csrf.js";
import type { CommitHeaders } from "../http/response-headers.js";
import type { CompatCookie } from "./compat-cookie.js";
import { finalCommitNowOrLater, type RequestSessionState } from "./compat-session.js";
import type { SessionFactName, WritableFacts } from "./compat-view.js";
import { createFastifySessionView } from "./fastify-view.js";
import { applyNodeHeaders, nodeHeaderReader } from "./node-headers.js";

export type { CsrfOptions } from "../http/csrf.js";
export { SessionCsrfError } from "../http/csrf.js";

/**
 * The shape of your session data, for `request.session` typing. Declare it once in your app
 * (and create the sessions with the same type):
 *
 * @example
 * ```ts
 * declare module "sessionkit/fastify" {
 *   interface SessionData {
 *     cart: string[];
 *   }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: apps add their keys through declaration merging
export interface SessionData {}

/** The declared `SessionData`, or any keys when the app declared none. */
export type AppSessionData = keyof SessionData extends never ? Record<string, unknown> : SessionData;

type Callback = (error?: unknown) => void;

/**
 * What code written for @fastify/session (and @fastify/passport) calls on `request.session`.
 * Every operation returns a promise, or takes a callback instead.
 */
export interface FastifySessionApi<Data extends object>
  extends Omit<Session<Data>, SessionFactName | "destroy">,
    WritableFacts<Data> {
  /** The public id (`session.id`, not the token), as @fastify/session's `sessionId`. */
  readonly sessionId: string;
  /**
   * The session cookie. Writing `maxAge` (ms) or `expires` gives this session its own idle
   * timeout ("remember me", bounded by `maxIdleTimeout`); `maxAge = null` makes it a
   * browser-session cookie. See `session.setLifetime()`.
   */
  readonly cookie: CompatCookie;
  /** Deletes the stored session now and continues with a new, empty one, keeping the `keys` listed. */
  regenerate(keys?: readonly string[]): Promise<void>;
  regenerate(callback: Callback): void;
  regenerate(keys: readonly string[], callback: Callback): void;
  /** Deletes the session now (the response clears the cookie); `request.session` becomes null. */
  destroy(): Promise<void>;
  destroy(callback: Callback): void;
  /** Commits now (the response commits again, writing only what changed since). */
  save(): Promise<void>;
  save(callback: Callback): void;
  /** Re-reads the session from the store, dropping unsaved changes (a new `request.session`). */
  reload(): Promise<void>;
  reload(callback: Callback): void;
  /** Accepted for compatibility: the engine slides the expiry itself at commit. */
  touch(): void;
  /** Per-session cookie options: `maxAge` / `expires`, as on `cookie`. */
  options(options: { maxAge?: number | null; expires?: Date | null }): void;
  /** The underlying sessionkit `Session`. */
  readonly sessionkit: Session<Data>;
}

/** `request.session`: the sessionkit API, the @fastify/session API, and data keys as properties. */
export type FastifySession<Data extends object = AppSessionData> = FastifySessionApi<Data> &
  Partial<Data> & { [key: string]: unknown };

declare module "fastify" {
  interface FastifyRequest {
    /** Set by sessionkit's `sessionPlugin` in `onRequest`; null after `destroy()`. */
    session: FastifySession;
  }
}

/** Options of {@link sessionPlugin}. */
export interface FastifySessionOptions {
  /** The object `createSessions()` returned. */
  sessions: Sessions<AppSessionData>;
  /**
   * Transport that answers a request carrying no token ("cookie" or a header name), when the
   * sessions are configured with several. @default the first configured
   */
  transport?: string | ((request: FastifyRequest) => string | undefined);
}

const STATE = Symbol("sessionkit.state");
const COMMIT = Symbol("sessionkit.commit");
type Marked = FastifyRequest & { [STATE]?: RequestSessionState; [COMMIT]?: Promise<CommitHeaders> };

const sessionPluginAsync: FastifyPluginAsync<FastifySessionOptions> = async (fastify, options) => {
  const sessions = options.sessions;
  if (!sessions || typeof sessions.load !== "function") {
    throw new TypeError(
      "[sessionkit] [fastify] register(sessionPlugin, { sessions }) needs the object createSessions() returned",
    );
  }
  fastify.decorateRequest("session", null as unknown as FastifySession);

  fastify.addHook("onRequest", async (request) => {
    const transport = typeof options.transport === "function" ? options.transport(request) : options.transport;
    const headers = nodeHeaderReader(request.headers);
    // A store failure rejects here and Fastify answers with its error handling (a 5xx).
    const ip = () => request.ip; // read only for a new session (a getter that may parse proxy headers)
    const session = await sessions.load(headers, { ip, transport });
    const state: RequestSessionState = {
      sessions: sessions as unknown as Sessions<Record<string, unknown>>,
      session: session as unknown as Session<Record<string, unknown>>,
      pending: null,
      headers,
      ip,
      transport,
      deferredError: undefined,
      inflight: null,
      replaceView: (view) => {
        request.session = view as FastifySession;
      },
    };
    (request as Marked)[STATE] = state;
    request.session = createFastifySessionView(state) as FastifySession;
  });

  fastify.addHook("onSend", async (request, reply, payload) => {
    const marked = request as Marked;
    const started = marked[COMMIT];
    if (started === undefined) {
      const state = marked[STATE];
      if (!state) return payload;
      const next = finalCommitNowOrLater(state);
      if (!(next instanceof Promise)) {
        marked[COMMIT] = Promise.resolve(next);
        applyNodeHeaders(replyTarget(reply), next);
        return payload;
      }
      const commit = next;
      marked[COMMIT] = commit;
      commit.catch(() => undefined); // handled below; later passes only look at it
      applyNodeHeaders(replyTarget(reply), await commit);
      return payload;
    }
    // A later pass commits nothing again. It is the error response of a failed commit (which
    // gets no session headers), or a second send that raced the first one's commit (an async
    // hook that called reply.redirect() without returning reply, as @fastify/passport's
    // authenticate does): whichever reaches the socket carries the session's headers.
    const headers = await started.catch(() => null);
    if (headers) applyNodeHeaders(replyTarget(reply), headers);
    return payload;
  });
};

function replyTarget(reply: FastifyReply) {
  return {
    getHeader: (name: string) => reply.getHeader(name) as number | string | string[] | undefined,
    setHeader: (name: string, value: string | string[]) => {
      // reply.header() appends to an existing Set-Cookie: remove first to set exactly.
      reply.removeHeader(name);
      reply.header(name, value);
    },
  };
}

/**
 * Fastify 5 plugin: loads the session into `request.session` in `onRequest` and commits it in
 * `onSend`. Store failures become Fastify errors (a 5xx through your error handler).
 *
 * @example
 * ```ts
 * import Fastify from "fastify";
 * import { sessionPlugin } from "sessionkit/fastify";
 *
 * const app = Fastify();
 * await app.register(sessionPlugin, { sessions });
 * app.get("/", async (request) => {
 *   request.session.set("visits", ((request.session.get("visits") as number) ?? 0) + 1);
 *   return { visits: request.session.get("visits") };
 * });
 * ```
 */
export const sessionPlugin = fp(sessionPluginAsync, { fastify: "5.x", name: "sessionkit" });

/**
 * A `preHandler` hook that rejects unsafe methods without the session's CSRF token (header
 * `x-csrf-token`, or the `_csrf` field of a parsed body) with a 403 `SessionCsrfError`.
 *
 * @example
 * ```ts
 * app.post("/transfer", { preHandler: csrfProtection() }, async () => "done");
 * ```
 */
export function csrfProtection(options: CsrfOptions = {}): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const { header, field } = resolveCsrfOptions(options);
  return async function sessionkitCsrf(request) {
    if (!isUnsafeMethod(request.method)) return;
    if (!request.session?.verifyCsrf(submittedCsrfToken(request.headers[header], request.body, field))) {
      throw new SessionCsrfError();
    }
  };
}
