import type { Context, MiddlewareHandler } from "hono";
import type { Session } from "../core/session.js";
import type { Sessions } from "../core/sessions.js";
import { applySessionHeaders } from "../http/apply-headers.js";
import { type CsrfOptions, isUnsafeMethod, resolveCsrfOptions, submittedCsrfToken } from "../http/csrf.js";

export type { CsrfOptions } from "../http/csrf.js";

/**
 * The Hono environment the middleware provides: `c.get("session")` is a typed `Session`.
 *
 * @example
 * ```ts
 * const app = new Hono<SessionEnv<{ cart: string[] }>>();
 * app.use(sessionMiddleware(sessions));
 * app.get("/", (c) => c.json(c.get("session").get("cart") ?? []));
 * ```
 */
export interface SessionEnv<Data extends object = Record<string, unknown>> {
  Variables: { session: Session<Data> };
}

/** Options of the Hono middleware. */
export interface HonoSessionOptions {
  /**
   * Transport that answers a request carrying no token ("cookie" or a header name), when the
   * sessions are configured with several. @default the first configured
   */
  transport?: string | ((c: Context) => string | undefined);
  /**
   * The client IP recorded on new sessions. @default the socket address under
   * `@hono/node-server`, else none (pass `getConnInfo(c).remote.address` from your runtime's helper)
   */
  ip?: (c: Context) => string | null | undefined;
}

/** Under @hono/node-server, `c.env` holds the Node request as `incoming`. */
function nodeSocketAddress(c: Context): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? null;
}

/**
 * Hono 4 middleware: loads the session into `c.get("session")` and adds the commit's headers
 * to `c.res` after the handler (and after `app.onError`, so error responses carry them too).
 * A store failure is thrown to Hono's error handling (a 5xx).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { sessionMiddleware, type SessionEnv } from "sessionkit/hono";
 *
 * const app = new Hono<SessionEnv<{ visits: number }>>();
 * app.use(sessionMiddleware(sessions));
 * app.get("/", (c) => {
 *   const session = c.get("session");
 *   session.set("visits", (session.get("visits") ?? 0) + 1);
 *   return c.text(`visit ${session.get("visits")}`);
 * });
 * ```
 */
export function sessionMiddleware<Data extends object>(
  sessions: Sessions<Data>,
  options: HonoSessionOptions = {},
): MiddlewareHandler<SessionEnv<Data>> {
  return async function sessionkitHono(c, next) {
    const transport = typeof options.transport === "function" ? options.transport(c) : options.transport;
    const ip = options.ip ? (options.ip(c) ?? null) : nodeSocketAddress(c);
    const session = await sessions.load(c.req.raw.headers, { ip, transport });
    c.set("session", session);
    await next();
    const headers = await sessions.commit(session);
    try {
      applySessionHeaders(c.res.headers, headers);
    } catch {
      // A Response with immutable headers (e.g. passed through from fetch()): copy it.
      c.res = new Response(c.res.body, c.res);
      applySessionHeaders(c.res.headers, headers);
    }
  };
}

/**
 * Rejects unsafe methods without the session's CSRF token (header `x-csrf-token`, or the
 * `_csrf` field of a form body) with a 403. Put it after `sessionMiddleware`.
 *
 * @example
 * ```ts
 * app.post("/transfer", csrfProtection(), (c) => c.text("done"));
 * ```
 */
export function csrfProtection(
  options: CsrfOptions = {},
): MiddlewareHandler<{ Variables: { session: Pick<Session<object>, "verifyCsrf"> } }> {
  const { header, field } = resolveCsrfOptions(options);
  return async function sessionkitCsrf(c, next) {
    if (isUnsafeMethod(c.req.method)) {
      let body: unknown = null;
      const type = c.req.header("content-type") ?? "";
      if (!c.req.header(header) && /^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) {
        body = await c.req.parseBody(); // Hono caches the parsed body for the handler
      }
      if (!c.get("session").verifyCsrf(submittedCsrfToken(c.req.header(header), body, field))) {
        return c.text("Forbidden: missing or invalid CSRF token", 403);
      }
    }
    await next();
  };
}
