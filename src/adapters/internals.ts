import { INTERNAL, type SessionsInternals } from "../core/internal.js";
import type { Session } from "../core/session.js";
import type { Sessions } from "../core/sessions.js";
import { fromWebHeaders } from "../http/response-headers.js";

const fallbacks = new WeakMap<object, SessionsInternals>();

/**
 * The adapters' commit path of `sessions`. Sessions from `createSessions()` carry it; any
 * other object implementing `Sessions` (a wrapper, a test double) gets the same behaviour
 * through its public `commit()`.
 */
export function internalsOf(sessions: Sessions<Record<string, unknown>>): SessionsInternals {
  const own = (sessions as unknown as { [INTERNAL]?: SessionsInternals })[INTERNAL];
  if (own !== undefined) return own;
  let fallback = fallbacks.get(sessions);
  if (fallback === undefined) {
    const commit = async (session: Session) => fromWebHeaders(await sessions.commit(session), sessions.config.transports);
    fallback = { commit, commitNowOrLater: commit };
    fallbacks.set(sessions, fallback);
  }
  return fallback;
}
