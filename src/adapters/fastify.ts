import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Session } from "../core/session.js";
import type { Sessions } from "../core/sessions.js";
import { type CsrfOptions, isUnsafeMethod, resolveCsrfOptions, SessionCsrfError, submittedCsrfToken } from "../http/csrf.js";
import { applyNodeHeaders, pickHeaders, sessionHeaderNames } from "./node-headers.js";

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

declare module "fastify" {
  interface FastifyRequest {
    /** Set by sessionkit's `sessionPlugin` in `onRequest`. */
    session: Session<AppSessionData>;
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

const COMMITTED = Symbol("sessionkit.committed");

const sessionPluginAsync: FastifyPluginAsync<FastifySessionOptions> = async (fastify, options) => {
  const sessions = options.sessions;
  if (!sessions || typeof sessions.load !== "function") {
    throw new TypeError(
      "[sessionkit] [fastify] register(sessionPlugin, { sessions }) needs the object createSessions() returned",
    );
  }
  const names = sessionHeaderNames(sessions.config.transports);
  fastify.decorateRequest("session", null as unknown as Session<AppSessionData>);

  fastify.addHook("onRequest", async (request) => {
    const transport = typeof options.transport === "function" ? options.transport(request) : options.transport;
    // A store failure rejects here and Fastify answers with its error handling (a 5xx).
    request.session = await sessions.load(pickHeaders(request.headers, names), { ip: request.ip, transport });
  });

  fastify.addHook("onSend", async (request, reply, payload) => {
    const marked = request as FastifyRequest & { [COMMITTED]?: true };
    // onSend runs again for the error response if the commit throws: commit once only.
    if (!request.session || marked[COMMITTED]) return payload;
    marked[COMMITTED] = true;
    applyNodeHeaders(replyTarget(reply), await sessions.commit(request.session));
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
    if (!request.session.verifyCsrf(submittedCsrfToken(request.headers[header], request.body, field))) {
      throw new SessionCsrfError();
    }
  };
}
