import type { CommitHeaders } from "../http/response-headers.js";
import type { Session } from "./session.js";

/**
 * The key of what `createSessions()` offers sessionkit's own adapters beyond the public API.
 * `Symbol.for`, so an adapter loaded as ESM finds it on sessions created by the CJS build.
 */
export const INTERNAL: unique symbol = Symbol.for("sessionkit.internal.v1") as never;

/** The adapters' path to a commit: plain header fields instead of a Web `Headers`. */
export interface SessionsInternals {
  /** `sessions.commit()`, returning the plain header fields. */
  commit(session: Session): Promise<CommitHeaders>;
  /**
   * The commit, settled synchronously when it needs no store operation (an unchanged session,
   * a new one holding nothing), else its promise. Always a promise while an instrumentation
   * traces commits, so every commit still gets its span.
   */
  commitNowOrLater(session: Session): CommitHeaders | Promise<CommitHeaders>;
}
