import { createCompatCookie } from "./compat-cookie.js";
import { commitNow, enqueue, type RequestSessionState, regenerateSession, reloadSession } from "./compat-session.js";
import { createCompatView, detach, type ViewSpec } from "./compat-view.js";

type Callback = (error?: unknown) => void;

/**
 * Reports an operation to its callback, outside the promise chain (an exception thrown by the
 * callback surfaces as it would under express-session, not as an unhandled rejection). Without
 * a callback a failure is not dropped: the response's own commit fails with it (a 5xx).
 */
function report(state: RequestSessionState, running: Promise<void>, callback: Callback | undefined): void {
  running.then(
    () => {
      if (callback) setImmediate(callback);
    },
    (error: unknown) => {
      if (callback) setImmediate(callback, error);
      else state.deferredError ??= error;
    },
  );
}

const adapter = "express";

const spec: ViewSpec = {
  adapter,
  getters: { cookie: (h) => (h.cookie ??= createCompatCookie(h.state, adapter)) },
  methods: {
    regenerate: (h, callback?: Callback) => {
      const { state } = h;
      report(
        state,
        enqueue(state, async () => {
          // express-session semantics: the old session is deleted, the request continues with
          // a new, empty one under a new id. Passport copies back what it keeps from the old
          // object, which stays readable.
          detach(h);
          await regenerateSession(state);
          state.replaceView(createSessionView(state));
        }),
        callback,
      );
      return h.view;
    },
    save: (h, callback?: Callback) => {
      report(
        h.state,
        enqueue(h.state, () => commitNow(h.state)),
        callback,
      );
      return h.view;
    },
    destroy: (h, callback?: Callback) => {
      const { state } = h;
      // As express-session: req.session is gone at once; the store delete happens now when
      // there is a callback to tell, else at the response's commit (which clears the cookie).
      state.session.destroy();
      state.replaceView(null);
      if (callback) {
        report(
          state,
          enqueue(state, () => commitNow(state)),
          callback,
        );
      }
      return h.view;
    },
    reload: (h, callback?: Callback) => {
      report(
        h.state,
        enqueue(h.state, () => reloadSession(h.state, adapter)),
        callback,
      );
      return h.view;
    },
    // The engine slides the expiry itself at commit (at most once per touchInterval).
    touch: (h) => h.view,
    resetMaxAge: (h) => h.view,
  },
};

/**
 * `req.session` for Express: the sessionkit `Session` API (`get`, `set`, `login`, ...) plus
 * what express-session code such as Passport 0.7 relies on: data keys as properties
 * (`req.session.passport.user`, `delete req.session.passport`), `regenerate(cb)`, `save(cb)`,
 * `destroy(cb)`, `reload(cb)`, `touch()`, a writable `cookie.maxAge` / `cookie.expires`.
 */
export function createSessionView(state: RequestSessionState): object {
  return createCompatView(state, spec);
}
