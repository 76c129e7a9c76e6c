import type { DefaultState, Middleware, ParameterizedContext } from "koa";
import type { Session } from "../core/session.js";
import type { Sessions } from "../core/sessions.js";
import { type CsrfOptions, isUnsafeMethod, resolveCsrfOptions, SessionCsrfError, submittedCsrfToken } from "../http/csrf.js";
import { internalsOf } from "./internals.js";
import { applyNodeHeaders, nodeHeaderReader } from "./node-headers.js";

export type { CsrfOptions } from "../http/csrf.js";
export { SessionCsrfError } from "../http/csrf.js";

/**
 * What the middleware adds to the Koa context: `ctx.session`, a typed `Session`.
 *
 * @example
 * ```ts
 * const app = new Koa<Koa.DefaultState, SessionContext<{ cart: string[] }>>();
 * ```
 */
export interface SessionContext<Data extends object = Record<string, unknown>> {
  session: Session<Data>;
}

/** Options of the Koa middleware. */
export interface KoaSessionOptions {
  /**
   * Transport that answers a request carrying no token ("cookie" or a header name), when the
   * sessions are configured with several. @default the first configured
   */
  transport?: string | ((ctx: ParameterizedContext) => string | undefined);
}

/**
 * Koa (2 and 3) middleware: loads the session into `ctx.session` and commits it after the
 * downstream middleware, before Koa writes the response. A store failure is thrown to Koa's
 * error handling (a 5xx). When downstream throws, the session is still committed and its
 * headers ride on `err.headers`, which Koa's default error response sets.
 *
 * @example
 * ```ts
 * import Koa from "koa";
 * import { sessionMiddleware } from "sessionkit/koa";
 *
 * const app = new Koa().use(sessionMiddleware(sessions));
 * app.use((ctx) => {
 *   ctx.session.set("visits", ((ctx.session.get("visits") as number) ?? 0) + 1);
 *   ctx.body = "hello";
 * });
 * ```
 */
export function sessionMiddleware<Data extends object>(
  sessions: Sessions<Data>,
  options: KoaSessionOptions = {},
): Middleware<DefaultState, SessionContext<Data>> {
  const internals = internalsOf(sessions as unknown as Sessions<Record<string, unknown>>);
  const commit = (session: Session<Data>) => internals.commitNowOrLater(session as unknown as Session);
  return async function sessionkitKoa(ctx, next) {
    const transport = typeof options.transport === "function" ? options.transport(ctx) : options.transport;
    const session = await sessions.load(nodeHeaderReader(ctx.req.headers), { ip: () => ctx.ip, transport });
    ctx.session = session;
    try {
      await next();
    } catch (error) {
      const headers = await commit(session);
      applyNodeHeaders(ctx.res, headers);
      // Koa's default error response removes every header, then sets err.headers.
      if (error !== null && typeof error === "object") {
        const carrier = error as { headers?: Record<string, string | string[]> };
        const extra: Record<string, string | string[]> = { ...carrier.headers };
        applyNodeHeaders(recordTarget(extra), headers);
        carrier.headers = extra;
      }
      throw error;
    }
    applyNodeHeaders(ctx.res, await commit(session));
  };
}

function recordTarget(record: Record<string, string | string[]>) {
  const find = (name: string) => Object.keys(record).find((k) => k.toLowerCase() === name);
  return {
    getHeader: (name: string) => {
      const key = find(name);
      return key === undefined ? undefined : record[key];
    },
    setHeader: (name: string, value: string | string[]) => {
      const key = find(name);
      if (key !== undefined) delete record[key];
      record[name] = value;
    },
  };
}

/**
 * Rejects unsafe methods without the session's CSRF token (header `x-csrf-token`, or the
 * `_csrf` field of `ctx.request.body` when a body parser ran) with a 403 `SessionCsrfError`.
 *
 * @example
 * ```ts
 * router.post("/transfer", csrfProtection(), (ctx) => { ctx.body = "done"; });
 * ```
 */
export function csrfProtection(
  options: CsrfOptions = {},
): Middleware<DefaultState, { session: Pick<Session<object>, "verifyCsrf"> }> {
  const { header, field } = resolveCsrfOptions(options);
  return async function sessionkitCsrf(ctx, next) {
    if (isUnsafeMethod(ctx.method)) {
      const body = (ctx.request as { body?: unknown }).body;
      if (!ctx.session.verifyCsrf(submittedCsrfToken(ctx.get(header) || undefined, body, field))) {
        throw new SessionCsrfError();
      }
    }
    await next();
  };
}
