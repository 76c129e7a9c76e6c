import { expiresAt } from "../core/expiry.js";
import type { RequestSessionState } from "./compat-session.js";

/** The cookie attributes a compat cookie reports; they come from `createSessions({ cookie })`. */
const ATTRIBUTES = ["httpOnly", "secure", "sameSite", "path", "domain", "partitioned"] as const;

/**
 * `req.session.cookie` as express-session and @fastify/session expose it. `maxAge` and
 * `expires` are writable and become the session's own lifetime (`session.setLifetime()`):
 * a number of ms, or a date, sets its idle timeout ("remember me"), bounded by
 * `maxIdleTimeout`; `null` makes it a browser-session cookie. The other attributes are the
 * configured ones; writing the same value is accepted, a different one is refused (TypeError).
 */
export interface CompatCookie {
  /** When the session will expire if nothing else happens (null for a browser-session cookie). */
  expires: Date | null;
  /** Milliseconds until `expires`, or null for a browser-session cookie. */
  maxAge: number | null;
  /** The idle timeout the expiry slides by, in ms (null: none, or a browser-session cookie). */
  originalMaxAge: number | null;
  httpOnly: boolean | undefined;
  secure: boolean | undefined;
  sameSite: "lax" | "strict" | "none" | undefined;
  path: string | undefined;
  domain: string | undefined;
  partitioned: boolean | undefined;
  /** What express-session stores as `session.cookie`. */
  toJSON(): Record<string, unknown>;
}

/** Turns a maxAge/expires write into the session's lifetime. */
function applyMaxAge(state: RequestSessionState, adapter: string, ms: number | null): void {
  if (ms === null) {
    state.session.setLifetime({ persistent: false });
    return;
  }
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(
      `[sessionkit] [${adapter}] session.cookie.maxAge must be a positive number of milliseconds or null (a browser-session cookie), got ${String(ms)}; to end the session call destroy()`,
    );
  }
  state.session.setLifetime({ idle: Math.round(ms), persistent: true });
}

function toExpiryMs(state: RequestSessionState, adapter: string, value: unknown): number | null {
  if (value === null || value === false || value === undefined) return null;
  const at = value instanceof Date ? value.getTime() : Number.NaN;
  if (!Number.isFinite(at)) {
    throw new RangeError(
      `[sessionkit] [${adapter}] session.cookie.expires must be a valid Date or null (a browser-session cookie), got ${String(value)}`,
    );
  }
  return at - state.sessions.config.clock();
}

/** A live cookie view over the request's session (each read reflects the current lifetime). */
export function createCompatCookie(state: RequestSessionState, adapter: string): CompatCookie {
  const { config } = state.sessions;
  const transport = config.transports.find((t) => t.kind === "cookie");
  const options = transport?.kind === "cookie" ? transport.cookie : null;

  const idle = () => {
    const lifetime = state.session.lifetime;
    return lifetime?.idle === undefined ? config.policy.idle : lifetime.idle;
  };
  const expiry = (): Date | null => {
    const session = state.session;
    if (session.lifetime?.persistent === false) return null;
    const now = config.clock();
    // What the commit will write: the expiry slides with this request's activity.
    const at = expiresAt(config.policy, session.createdAt?.getTime() ?? now, now, session.lifetime);
    return at === null ? null : new Date(at);
  };

  const cookie = {
    get expires() {
      return expiry();
    },
    set expires(value: Date | null) {
      applyMaxAge(state, adapter, toExpiryMs(state, adapter, value));
    },
    get maxAge() {
      const at = expiry();
      return at === null ? null : Math.max(0, at.getTime() - config.clock());
    },
    set maxAge(value: number | null) {
      applyMaxAge(state, adapter, value);
    },
    get originalMaxAge() {
      return state.session.lifetime?.persistent === false ? null : idle();
    },
    set originalMaxAge(value: number | null) {
      applyMaxAge(state, adapter, value);
    },
    toJSON() {
      return {
        originalMaxAge: cookie.originalMaxAge,
        expires: cookie.expires?.toISOString() ?? null,
        ...Object.fromEntries(ATTRIBUTES.map((name) => [name, cookie[name]])),
      };
    },
  } as unknown as CompatCookie;

  for (const name of ATTRIBUTES) {
    const configured = () => (options ? (options[name] as unknown) : undefined);
    Object.defineProperty(cookie, name, {
      enumerable: true,
      get: configured,
      set(value: unknown) {
        if (value === configured()) return;
        throw new TypeError(
          `[sessionkit] [${adapter}] session.cookie.${name} is set for every session by createSessions({ cookie: { ${name} } }) (it is ${JSON.stringify(configured())}); it cannot change per request`,
        );
      },
    });
  }
  return cookie;
}
