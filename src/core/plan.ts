/**
 * The commit policy, as pure functions: what a commit writes and what its response does with
 * the token, decided from facts about the loaded state, the request's changes and the time.
 * No store, no clock, no crypto: the executor (commit.ts) gathers the facts and runs the plan.
 */

/** The one store write a commit makes, at most. */
export type StoreEffect = "none" | "touch" | "create" | "update" | "delete";

/** What the response does with the token: send it (new or refreshed), clear it, or leave it alone. */
export type TokenAction = "set" | "clear" | "none";

export interface Plan {
  readonly effect: StoreEffect;
  readonly token: TokenAction;
}

/** What the executor knows when a commit starts. */
export interface CommitFacts {
  /** A stored row backs this session (it was loaded, or committed earlier). */
  stored: boolean;
  destroyed: boolean;
  /** The request carried a value on the session's transport (valid or not). */
  hadToken: boolean;
  /** login() or rotate() was called: the row gets a new secret. */
  rotated: boolean;
  /** Data, user, meta, lifetime, or the key that encrypts them differ from the stored row. */
  changed: boolean;
  /** A new session holds something worth a row: data, a user, meta, or a CSRF token was asked for. */
  holdsSomething: boolean;
  /** `touchInterval` has passed since the stored last-active time. */
  touchDue: boolean;
  /** The cookieKeys values differ from those the cookie carries. */
  payloadChanged: boolean;
  /** setLifetime() changed the session's timeouts or cookie persistence: the cookie's Max-Age changes with them. */
  lifetimeChanged?: boolean;
  /**
   * This request knows the secret the row holds. It does not after another request's plain
   * rotate() was merged in: then it writes its changes but sends no token (its own is stale,
   * and the browser already holds the new one).
   */
  secretKnown: boolean;
  transport: "cookie" | "header";
}

const plan = (effect: StoreEffect, token: TokenAction): Plan => ({ effect, token });

/**
 * Decides a commit.
 * - A destroyed session is deleted (if stored) and its cookie cleared (if the client has one).
 * - A new session is written only once it holds something (no row, no cookie per bot hit).
 * - A changed session is one compare-and-set update; login and rotation are such an update.
 * - An unchanged session writes nothing, except a touch (timestamps only) once per touchInterval.
 * - A cookie is re-sent when it is new, its payload or lifetime changed, or a touch moved its expiry; a
 *   header transport only ever sends a token that is new.
 */
export function planCommit(f: CommitFacts): Plan {
  const cookie = f.transport === "cookie" && f.secretKnown;
  if (f.destroyed) return plan(f.stored ? "delete" : "none", f.stored || f.hadToken ? "clear" : "none");
  if (!f.stored) return f.holdsSomething ? plan("create", "set") : plan("none", "none");
  if (f.rotated) return plan("update", f.secretKnown ? "set" : "none");
  if (f.changed) return plan("update", cookie && (f.payloadChanged || f.lifetimeChanged || f.touchDue) ? "set" : "none");
  if (f.touchDue) return plan("touch", cookie ? "set" : "none");
  return plan("none", "none");
}

/** What the executor found when its write did not apply. */
export interface ConflictFacts {
  /** The row now: gone (destroyed, revoked, expired, pruned), unreadable, or present. */
  row: "gone" | "undecodable" | "present";
  /** The stored secret differs from the one this request loaded: another request rotated it. */
  rotatedMeanwhile: boolean;
  /** That rotation changed who is signed in or when (another request's login()). */
  loginMeanwhile: boolean;
  /** This request itself called login(). */
  loggingIn: boolean;
}

/**
 * - "interrupt": the session is gone: drop this request's changes, clear its cookie.
 * - "drop": another request signed in on this session after this one loaded it; a request
 *   that started before a login must not write into the signed-in session. Its changes are
 *   dropped and its response leaves the cookie alone (the browser keeps the new one).
 * - "merge": re-apply this request's own changes onto the latest row and try again. After
 *   another request's plain rotate(), this request's own token is stale: it must not be sent
 *   (`keepTheirSecret`), and a rotate() of its own is already satisfied by theirs.
 * A login() of this request always installs its own new secret and user, whatever happened
 * meanwhile: keeping a secret another request chose would undo the fixation defence, and the
 * latest sign-in wins like any last write.
 */
export type ConflictPlan = { action: "interrupt" } | { action: "drop" } | { action: "merge"; keepTheirSecret: boolean };

export function planConflict(f: ConflictFacts): ConflictPlan {
  if (f.row !== "present") return { action: "interrupt" };
  if (f.loggingIn) return { action: "merge", keepTheirSecret: false };
  if (f.loginMeanwhile) return { action: "drop" };
  return { action: "merge", keepTheirSecret: f.rotatedMeanwhile };
}
