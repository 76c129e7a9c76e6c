import type { IncomingMessage, ServerResponse } from "node:http";
import { SessionConfigError } from "../contract/errors.js";
import { Session } from "../core/session.js";
import type { Sessions } from "../core/sessions.js";
import { type CsrfOptions, isUnsafeMethod, resolveCsrfOptions, SessionCsrfError, submittedCsrfToken } from "../http/csrf.js";
import type { CompatCookie } from "./compat-cookie.js";
import { finalCommitNowOrLater, type RequestSessionState } from "./compat-session.js";
import type { SessionFactName, WritableFacts } from "./compat-view.js";
import { deferHeaders } from "./defer-headers.js";
import { nodeObjectsToDictionaryMode } from "./dictionary-mode.js";
import { createSessionView } from "./express-view.js";
import { nodeHeaderReader } from "./node-headers.js";

export type { CsrfOptions } from "../http/csrf.js";
export { SessionCsrfError } from "../http/csrf.js";

/**
 * The shape of your session data, for `req.session` typing. Declare it once in your app:
 *
 * @example
 * ```ts
 * declare module "sessionkit/express" {
 *   interface SessionData {
 *     cart: string[];
 *   }
 * }
 * // req.session.get("cart") is string[] | undefined; req.session.get("nope") is a type error.
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: apps add their keys through declaration merging
export interface SessionData {}

/** The declared `SessionData`, or any keys when the app declared none. */
export type AppSessionData = keyof SessionData extends never ? Record<string, unknown> : SessionData;

type Callback = (error?: unknown) => void;

/** The methods express-session code (Passport 0.7 among it) calls on `req.session`. */
export interface ExpressSessionApi<Data extends object>
  extends Omit<Session<Data>, SessionFactName | "destroy">,
    WritableFacts<Data> {
  /** Deletes this session and continues the request with a new, empty one under a new token. */
  regenerate(callback?: Callback): this;
  /** Commits now (the response commits again, writing only what changed since). */
  save(callback?: Callback): this;
  /** Re-reads the session from the store, dropping unsaved changes. */
  reload(callback?: Callback): this;
  /**
   * Deletes the session and removes `req.session`, as express-session does: with a callback
   * the store delete happens now, without one at the response's commit (which clears the cookie).
   */
  destroy(callback?: Callback): this;
  /** Accepted for compatibility: the engine slides the expiry itself at commit. */
  touch(): this;
  /** Accepted for compatibility: the engine slides the expiry itself at commit. */
  resetMaxAge(): this;
  /**
   * The session cookie, as express-session describes it. Writing `maxAge` (ms) or `expires`
   * gives this session its own idle timeout ("remember me", bounded by `maxIdleTimeout`);
   * `maxAge = null` makes it a browser-session cookie. See `session.setLifetime()`.
   */
  readonly cookie: CompatCookie;
  /** The underlying sessionkit `Session`. */
  readonly sessionkit: Session<Data>;
}

/**
 * `req.session`: the sessionkit `Session` API plus express-session-style property access to
 * data keys (`req.session.passport`), so code written for express-session keeps working.
 * A data key that shares a name with a method (`get`, `id`...) is only reachable through
 * `get`/`set`.
 */
export type ExpressSession<Data extends object = AppSessionData> = ExpressSessionApi<Data> &
  Partial<Data> & { [key: string]: unknown };

declare global {
  namespace Express {
    interface Request {
      /** Set by sessionkit's `sessionMiddleware`; removed by `req.session.destroy()`. */
      session: ExpressSession;
      /** The public id of `req.session` (`session.id`, not the token), as express-session's `req.sessionID`. */
      readonly sessionID: string;
    }
  }
}

/** Options of the Express middleware. */
export interface ExpressSessionMiddlewareOptions {
  /**
   * Transport that answers a request carrying no token ("cookie" or a header name), when the
   * sessions are configured with several. @default the first configured
   */
  transport?: string | ((req: IncomingMessage) => string | undefined);
  /** The client IP recorded on new sessions. @default req.ip (honours "trust proxy"), else the socket address */
  ip?: (req: IncomingMessage) => string | null | undefined;
  /**
   * Switch `req` and `res` to V8's dictionary mode on the way in. Node gives each of them a
   * hidden class of its own, so without it every property access on them (by Node, Express,
   * your routes and sessionkit) takes V8's slow path; with it Express itself runs about a
   * third fewer instructions per request. Nothing observable changes (see docs/benchmarks.md).
   * `false` leaves the objects alone. @default true
   */
  dictionaryMode?: boolean;
}

type Next = (error?: unknown) => void;
type NodeHandler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

const REQUEST_STATE = Symbol("sessionkit.express.state");
type StatefulRequest = IncomingMessage & { [REQUEST_STATE]?: RequestSessionState };
/** Per request prototype: whether our `sessionID` getter is on it. */
const sessionIdGetterOn = new WeakMap<object, boolean>();

/**
 * express-session's `req.sessionID` (logging and rate-limit middleware read it): the public
 * id, read live (a new session gets its id at first use). The getter lives on the request's
 * prototype, defined once: an accessor defined on each request costs a property definition per
 * request (and, with `dictionaryMode: false`, yet another hidden class). Writing
 * `req.sessionID` gives that request an own value, as with express-session.
 */
function exposeSessionId(req: StatefulRequest, state: RequestSessionState): void {
  req[REQUEST_STATE] = state;
  const proto = Object.getPrototypeOf(req) as object | null;
  let ours = proto === null ? false : sessionIdGetterOn.get(proto);
  if (ours === undefined && proto !== null) {
    ours = !Object.hasOwn(proto, "sessionID");
    if (ours) {
      Object.defineProperty(proto, "sessionID", {
        configurable: true,
        enumerable: false,
        get(this: StatefulRequest) {
          return this[REQUEST_STATE]?.session.id;
        },
        set(this: StatefulRequest, value: unknown) {
          Object.defineProperty(this, "sessionID", { value, writable: true, configurable: true, enumerable: true });
        },
      });
    }
    sessionIdGetterOn.set(proto, ours);
  }
  // A prototype that already has a sessionID of someone else's: the slow own accessor.
  if (!ours) Object.defineProperty(req, "sessionID", { configurable: true, enumerable: true, get: () => state.session.id });
}

/**
 * Express (4 and 5) and Connect middleware: loads the session into `req.session` and commits
 * it before the response headers go out (also for `res.redirect`, streamed responses and
 * error responses). Store failures go to `next(err)`, so your error handler answers with a 5xx.
 *
 * @example
 * ```ts
 * import express from "express";
 * import { createSessions } from "sessionkit";
 * import { sessionMiddleware } from "sessionkit/express";
 * import { sqliteStore } from "sessionkit/sqlite";
 *
 * const sessions = createSessions({ store: sqliteStore({ path: "sessions.sqlite" }), secrets: [secret] });
 * const app = express();
 * app.use(sessionMiddleware(sessions));
 * app.get("/", (req, res) => {
 *   req.session.set("visits", ((req.session.get("visits") as number) ?? 0) + 1);
 *   res.send("hello");
 * });
 * ```
 */
export function sessionMiddleware<Data extends object>(
  sessions: Sessions<Data>,
  options: ExpressSessionMiddlewareOptions = {},
): NodeHandler {
  const engine = sessions as unknown as Sessions<Record<string, unknown>>;
  const dictionaryMode = options.dictionaryMode !== false;
  return function sessionkitExpress(req, res, next) {
    // First: every access below (and after) is then a cached one.
    if (dictionaryMode) nodeObjectsToDictionaryMode(req, res);
    const request = req as IncomingMessage & { session?: unknown; ip?: string };
    if (request.session !== undefined && request.session !== null) {
      if ((request.session as { sessionkit?: unknown }).sessionkit instanceof Session) return next(); // mounted twice
      return next(
        new SessionConfigError(
          "[sessionkit] [express] req.session is already set by another middleware (express-session?); mount only one session middleware",
        ),
      );
    }
    const headers = nodeHeaderReader(req.headers);
    // Read only for a new session: Express's req.ip parses X-Forwarded-For per "trust proxy".
    const ip = () => (options.ip ? options.ip(req) : (request.ip ?? req.socket.remoteAddress));
    const transport = typeof options.transport === "function" ? options.transport(req) : options.transport;
    engine.load(headers, { ip, transport }).then((session) => {
      const state: RequestSessionState = {
        sessions: engine,
        session,
        pending: null,
        headers,
        ip,
        transport,
        deferredError: undefined,
        inflight: null,
        replaceView: (view) => {
          if (view === null) delete request.session;
          else request.session = view;
        },
      };
      request.session = createSessionView(state);
      exposeSessionId(request, state);
      deferHeaders(res, () => finalCommitNowOrLater(state), next);
      next();
    }, next);
  };
}

/**
 * CSRF check for cookie sessions: unsafe methods (POST, PUT, PATCH, DELETE...) must carry
 * `req.session.csrfToken()` in the `x-csrf-token` header or the `_csrf` form field (parse
 * the body first, e.g. `express.urlencoded()`); otherwise `next(SessionCsrfError)`, a 403.
 * Put it after `sessionMiddleware`.
 *
 * @example
 * ```ts
 * app.use(sessionMiddleware(sessions), express.urlencoded({ extended: false }), csrfProtection());
 * app.get("/form", (req, res) => res.send(`<input type="hidden" name="_csrf" value="${req.session.csrfToken()}">`));
 * ```
 */
export function csrfProtection(options: CsrfOptions = {}): NodeHandler {
  const { header, field } = resolveCsrfOptions(options);
  return function sessionkitCsrf(req, _res, next) {
    if (!isUnsafeMethod(req.method)) return next();
    const session = (req as IncomingMessage & { session?: ExpressSession }).session;
    if (!session || typeof session.verifyCsrf !== "function") {
      return next(new SessionConfigError("[sessionkit] [express] csrfProtection() needs sessionMiddleware(sessions) before it"));
    }
    const token = submittedCsrfToken(req.headers[header], (req as IncomingMessage & { body?: unknown }).body, field);
    next(session.verifyCsrf(token) ? undefined : new SessionCsrfError());
  };
}
