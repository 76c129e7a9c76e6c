import { SessionStateError } from "../contract/errors.js";
import type { Session } from "../core/session.js";
import type { Sessions } from "../core/sessions.js";

/** What one request keeps while its session view is alive. */
export interface RequestSessionState {
  sessions: Sessions<Record<string, unknown>>;
  session: Session<Record<string, unknown>>;
  /** Headers from commits made during the request (`save`, `regenerate`, `destroy(cb)`). */
  pending: Headers | null;
  /** The request headers the session was loaded from, for `reload`. */
  headers: Headers;
  ip: string | null;
  /** An error from a callback-less `save()`/`regenerate()`, raised by the final commit. */
  deferredError: unknown;
  /** A `save`/`regenerate`/`reload` still running; the final commit waits for it. */
  inflight: Promise<unknown> | null;
  /** Replaces `req.session` (regenerate hands out a new view). */
  replaceView(view: object): void;
}

type Callback = (error?: unknown) => void;

/** Names that belong to the session API; every other string property is a data key. */
const SESSION_PROPS = new Set([
  "id",
  "userId",
  "isNew",
  "authenticatedAt",
  "interrupted",
  "createdAt",
  "lastActiveAt",
  "expiresAt",
  "ip",
  "userAgent",
  "meta",
  "destroyed",
  "get",
  "set",
  "has",
  "delete",
  "clear",
  "keys",
  "toJSON",
  "login",
  "rotate",
  "destroy",
  "csrfToken",
  "verifyCsrf",
]);
const VIEW_PROPS = new Set(["regenerate", "save", "reload", "touch", "resetMaxAge", "cookie", "sessionkit"]);

/**
 * Merges the headers of a later commit into those of earlier ones: the latest token
 * (Set-Cookie or header) wins, Vary accumulates, Cache-Control stays.
 */
export function mergeCommitHeaders(pending: Headers | null, next: Headers): Headers {
  if (pending === null) return next;
  const merged = new Headers(pending);
  if (next.getSetCookie().length > 0) {
    merged.delete("set-cookie");
    for (const line of next.getSetCookie()) merged.append("set-cookie", line);
  }
  next.forEach((value, name) => {
    if (name === "set-cookie") return;
    if (name === "vary") {
      const tokens = new Set([...(merged.get("vary") ?? "").split(","), ...value.split(",")].map((t) => t.trim()));
      tokens.delete("");
      merged.set("vary", [...tokens].join(", "));
    } else merged.set(name, value);
  });
  return merged;
}

/**
 * `req.session` for Express: the sessionkit `Session` API (`get`, `set`, `login`, ...) plus
 * what express-session code such as Passport 0.7 relies on: data keys as properties
 * (`req.session.passport.user`, `delete req.session.passport`), and `regenerate(cb)`,
 * `save(cb)`, `destroy(cb)`, `reload(cb)`, `touch()`, `cookie`.
 */
export function createSessionView(state: RequestSessionState): object {
  // After regenerate() the old view keeps a read-only copy of the old data, which is what
  // Passport's `keepSessionInfo` copies back from (`prevSession`).
  let detached: Record<string, unknown> | null = null;
  const read = (key: string) => (detached ? detached[key] : state.session.get(key));
  const holds = (key: string) => (detached ? Object.hasOwn(detached, key) : state.session.has(key));
  const dataKeys = () => (detached ? Object.keys(detached) : state.session.keys());

  const commitNow = async () => {
    state.pending = mergeCommitHeaders(state.pending, await state.sessions.commit(state.session));
  };
  const withCallback = (run: () => Promise<void>, callback: Callback | undefined, view: object) => {
    const running = (state.inflight ?? Promise.resolve()).catch(() => undefined).then(run);
    state.inflight = running.catch(() => undefined);
    running.then(
      () => callback?.(),
      (error: unknown) => {
        // Without a callback the error is not dropped: the response's own commit fails with it.
        if (callback) callback(error);
        else state.deferredError ??= error;
      },
    );
    return view;
  };
  const live = () => {
    if (detached)
      throw new SessionStateError(
        "[sessionkit] [express] this session object was replaced by regenerate(); use the new req.session",
      );
    return state.session;
  };

  const methods: Record<string, (view: object, ...args: never[]) => unknown> = {
    regenerate: (view, callback?: Callback) =>
      withCallback(
        async () => {
          const session = live();
          const snapshot = session.toJSON() as Record<string, unknown>;
          // express-session semantics: the old session is deleted, the request continues with
          // a new, empty one under a new token (the engine resets the session in place when it
          // commits a destroy). Passport copies back what it wants to keep.
          session.destroy();
          await commitNow();
          detached = snapshot;
          state.replaceView(createSessionView(state));
        },
        callback,
        view,
      ),
    save: (view, callback?: Callback) =>
      withCallback(
        async () => {
          live();
          await commitNow();
        },
        callback,
        view,
      ),
    destroy: (view, callback?: Callback) => {
      live().destroy();
      if (!callback) return view;
      return withCallback(commitNow, callback, view);
    },
    reload: (view, callback?: Callback) =>
      withCallback(
        async () => {
          const current = live();
          const fresh = await state.sessions.load(state.headers, { ip: state.ip });
          if (current.isNew || fresh.isNew || fresh.id !== current.id) {
            throw new SessionStateError(
              "[sessionkit] [express] reload() found no stored session for this request (it is new, was rotated, or is gone)",
            );
          }
          state.session = fresh;
        },
        callback,
        view,
      ),
    // The engine slides the expiry itself at commit (at most once per touchInterval).
    touch: (view) => view,
    resetMaxAge: (view) => view,
  };

  const cookie = () => {
    const transport = state.sessions.config.transports.find((t) => t.kind === "cookie");
    const expires = state.session.expiresAt;
    const opts = transport?.kind === "cookie" ? transport.cookie : null;
    return Object.freeze({
      expires,
      maxAge: expires === null ? null : Math.max(0, expires.getTime() - state.sessions.config.clock()),
      originalMaxAge: state.sessions.config.policy.idle,
      httpOnly: opts?.httpOnly,
      secure: opts?.secure,
      sameSite: opts?.sameSite,
      path: opts?.path,
      domain: opts?.domain,
    });
  };

  const view: object = new Proxy(Object.create(null) as object, {
    get(_target, prop) {
      if (typeof prop !== "string") return undefined;
      if (prop === "cookie") return cookie();
      if (prop === "sessionkit") return state.session;
      const method = methods[prop];
      if (method) return (...args: never[]) => method(view, ...args);
      if (SESSION_PROPS.has(prop)) {
        const session = live();
        const value = Reflect.get(session, prop, session) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(session) : value;
      }
      return read(prop);
    },
    set(_target, prop, value) {
      if (typeof prop !== "string") return false;
      if (prop === "meta") {
        live().meta = value as Record<string, unknown> | null;
        return true;
      }
      if (SESSION_PROPS.has(prop) || VIEW_PROPS.has(prop)) {
        throw new TypeError(
          `[sessionkit] [express] req.session.${prop} is part of the session API; use req.session.set("${prop}", value) for data`,
        );
      }
      live().set(prop, value);
      return true;
    },
    deleteProperty(_target, prop) {
      if (typeof prop !== "string" || SESSION_PROPS.has(prop) || VIEW_PROPS.has(prop)) return false;
      live().delete(prop);
      return true;
    },
    has(_target, prop) {
      if (typeof prop !== "string") return false;
      return SESSION_PROPS.has(prop) || VIEW_PROPS.has(prop) || holds(prop);
    },
    // Enumeration (Object.keys, for...in, spread, utils-merge) sees the data keys only.
    ownKeys() {
      return dataKeys();
    },
    getOwnPropertyDescriptor(_target, prop) {
      if (typeof prop !== "string") return undefined;
      if (!holds(prop)) return undefined;
      return { value: read(prop), writable: true, enumerable: true, configurable: true };
    },
    defineProperty(_target, prop, descriptor) {
      if (typeof prop !== "string" || !("value" in descriptor)) return false;
      live().set(prop, descriptor.value);
      return true;
    },
  });
  return view;
}
