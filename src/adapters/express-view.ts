import { type CompatCookie, createCompatCookie } from "./compat-cookie.js";
import { commitNow, enqueue, type RequestSessionState, regenerateSession, reloadSession } from "./compat-session.js";
import { createCompatView } from "./compat-view.js";

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

/**
 * `req.session` for Express: the sessionkit `Session` API (`get`, `set`, `login`, ...) plus
 * what express-session code such as Passport 0.7 relies on: data keys as properties
 * (`req.session.passport.user`, `delete req.session.passport`), `regenerate(cb)`, `save(cb)`,
 * `destroy(cb)`, `reload(cb)`, `touch()`, a writable `cookie.maxAge` / `cookie.expires`.
 */
export function createSessionView(state: RequestSessionState): object {
  const adapter = "express";
  let cookie: CompatCookie | null = null; // made on first use: most requests never look
  const handle = createCompatView(state, {
    adapter,
    getters: { cookie: () => (cookie ??= createCompatCookie(state, adapter)) },
    methods: {
      regenerate: (view, callback?: Callback) => {
        report(
          state,
          enqueue(state, async () => {
            // express-session semantics: the old session is deleted, the request continues with
            // a new, empty one under a new id. Passport copies back what it keeps from the old
            // object, which stays readable.
            handle.detach();
            await regenerateSession(state);
            state.replaceView(createSessionView(state));
          }),
          callback,
        );
        return view;
      },
      save: (view, callback?: Callback) => {
        report(
          state,
          enqueue(state, () => commitNow(state)),
          callback,
        );
        return view;
      },
      destroy: (view, callback?: Callback) => {
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
        return view;
      },
      reload: (view, callback?: Callback) => {
        report(
          state,
          enqueue(state, () => reloadSession(state, adapter)),
          callback,
        );
        return view;
      },
      // The engine slides the expiry itself at commit (at most once per touchInterval).
      touch: (view) => view,
      resetMaxAge: (view) => view,
    },
  });
  return handle.view;
}
