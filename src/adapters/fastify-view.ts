import { createCompatCookie } from "./compat-cookie.js";
import { commitNow, enqueue, type RequestSessionState, regenerateSession, reloadSession } from "./compat-session.js";
import { createCompatView, detach, type ViewHandle, type ViewSpec } from "./compat-view.js";

type Callback = (error?: unknown) => void;

/**
 * @fastify/session's convention: with a callback the outcome goes to it (outside the promise
 * chain, so an exception it throws is not swallowed into a rejection) and nothing is
 * returned; without one a promise is returned.
 */
function settle(running: Promise<void>, callback: Callback | undefined): Promise<void> | undefined {
  if (!callback) return running;
  running.then(
    () => setImmediate(callback),
    (error: unknown) => setImmediate(callback, error),
  );
  return undefined;
}

const adapter = "fastify";
const cookieOf = (h: ViewHandle) => (h.cookie ??= createCompatCookie(h.state, adapter));

const spec: ViewSpec = {
  adapter,
  getters: {
    cookie: cookieOf,
    sessionId: (h) => h.state.session.id,
  },
  methods: {
    regenerate: (h, keys?: readonly string[] | Callback, callback?: Callback) => {
      const { state } = h;
      const keep = Array.isArray(keys) ? (keys as readonly string[]) : [];
      const done = typeof keys === "function" ? keys : callback;
      return settle(
        enqueue(state, async () => {
          detach(h);
          await regenerateSession(state, keep);
          state.replaceView(createFastifySessionView(state));
        }),
        done,
      );
    },
    destroy: (h, callback?: Callback) => {
      const { state } = h;
      // As @fastify/session: the session is deleted now and request.session becomes null.
      state.session.destroy();
      state.replaceView(null);
      return settle(
        enqueue(state, () => commitNow(state)),
        callback,
      );
    },
    save: (h, callback?: Callback) =>
      settle(
        enqueue(h.state, () => commitNow(h.state)),
        callback,
      ),
    reload: (h, callback?: Callback) =>
      settle(
        enqueue(h.state, async () => {
          await reloadSession(h.state, adapter);
          h.state.replaceView(createFastifySessionView(h.state));
        }),
        callback,
      ),
    // The engine slides the expiry itself at commit (at most once per touchInterval).
    touch: () => undefined,
    // @fastify/session's per-session cookie options: maxAge/expires become the session's
    // lifetime; the other attributes are fixed by createSessions({ cookie }).
    options: (h, opts: Record<string, unknown>) => {
      const target = cookieOf(h) as unknown as Record<string, unknown>;
      for (const [name, value] of Object.entries(opts ?? {})) {
        if (!(name in target) || name === "toJSON") {
          throw new TypeError(
            `[sessionkit] [fastify] session.options({ ${name} }) is not a cookie option sessionkit can set per session`,
          );
        }
        target[name] = value;
      }
    },
  },
};

/**
 * `request.session` for Fastify: the sessionkit `Session` API plus the @fastify/session
 * surface (`sessionId`, `cookie`, `regenerate()`, `destroy()`, `save()`, `reload()`,
 * `touch()`, `options()`, data keys as properties), so @fastify/passport and code written
 * for @fastify/session run on it.
 */
export function createFastifySessionView(state: RequestSessionState): object {
  return createCompatView(state, spec);
}
