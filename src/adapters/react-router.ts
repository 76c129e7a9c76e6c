import { isDeepStrictEqual } from "node:util";
import {
  createSession,
  type FlashSessionData,
  type Session as RouterSession,
  type SessionData as RouterSessionData,
  type SessionStorage,
} from "react-router";
import type { Session, Sessions } from "../index.js";

/** Options of `createSessionkitStorage`. */
export interface ReactRouterSessionOptions {
  /**
   * The client IP recorded on new sessions, when `getSession` is given the request (or its
   * headers) rather than only the Cookie line. @default none
   */
  ip?: (headers: Headers) => string | null | undefined;
}

/**
 * A React Router `SessionStorage` whose sessions live in a sessionkit store, plus a way to the
 * sessionkit session underneath (for login, rotation, listing and revocation).
 */
export interface SessionkitStorage<Data extends object, FlashData = Data>
  extends SessionStorage<Data & RouterSessionData, FlashData & RouterSessionData> {
  /**
   * Also takes the whole `Request` (or its `Headers`), which records the user agent and, with
   * the `ip` option, the client IP on new sessions.
   */
  getSession(
    cookieHeaderOrRequest?: string | null | Request | Headers,
  ): Promise<RouterSession<Data & RouterSessionData, FlashData & RouterSessionData>>;
  /**
   * The sessionkit session behind a session this storage's `getSession` returned: call
   * `login(userId)` at sign-in (new token, data kept), `rotate()`, read `userId`, `id` (for
   * `sessions.list` / `sessions.revoke`), `csrfToken()`. Its changes are written by the next
   * `commitSession`.
   */
  sessionOf(session: RouterSession<Data & RouterSessionData, FlashData & RouterSessionData>): Session<Data>;
}

interface Loaded {
  session: Session<Record<string, unknown>>;
  /** The data as loaded (or last committed), to tell which keys the app changed. */
  snapshot: Map<string, unknown>;
}

const NOT_CLONEABLE = Symbol("not cloneable");

function snapshotOf(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return NOT_CLONEABLE; // never equal to anything: such a key is always written
  }
}

/**
 * A `createSessionStorage`-compatible storage for React Router 7 (framework mode) and Remix:
 * existing `getSession` / `commitSession` / `destroySession` code keeps working, while the data
 * lives in a sessionkit store, the cookie holds only a signed token, and sessions can be
 * listed, rotated at login and revoked. Flash messages work as with React Router's storages.
 *
 * `commitSession` returns the Set-Cookie line to send, or `""` when nothing needs sending (a
 * browser ignores an empty Set-Cookie). The cookie's name and attributes come from the
 * `createSessions` options, not from React Router's `createCookie`; the options of
 * `commitSession`/`destroySession` are ignored.
 *
 * @example
 * ```ts
 * // app/sessions.server.ts
 * export const { getSession, commitSession, destroySession, sessionOf } =
 *   createSessionkitStorage(createSessions<{ name: string }>({ store, secrets }));
 *
 * // app/routes/login.tsx
 * export async function action({ request }: Route.ActionArgs) {
 *   const session = await getSession(request.headers.get("Cookie"));
 *   session.set("name", "Ada");
 *   await sessionOf(session).login("user-42");
 *   return redirect("/", { headers: { "Set-Cookie": await commitSession(session) } });
 * }
 * ```
 */
export function createSessionkitStorage<Data extends object, FlashData = Data>(
  sessions: Sessions<Data>,
  options: ReactRouterSessionOptions = {},
): SessionkitStorage<Data, FlashData> {
  type Routed = RouterSession<Data & RouterSessionData, FlashData & RouterSessionData>;
  const engine = sessions as unknown as Sessions<Record<string, unknown>>;
  const loaded = new WeakMap<object, Loaded>();

  function entryOf(session: Routed, caller: string): Loaded {
    const entry = loaded.get(session);
    if (!entry) {
      throw new TypeError(`[sessionkit] [react-router] ${caller}() takes a session that this storage's getSession() returned`);
    }
    return entry;
  }

  /** Carries the changes the app made to the React Router session over to the sessionkit one. */
  function sync(session: Routed, entry: Loaded): void {
    const data = session.data as FlashSessionData<Record<string, unknown>, Record<string, unknown>>;
    const current = new Map(Object.entries(data));
    for (const key of entry.snapshot.keys()) {
      if (!current.has(key)) entry.session.delete(key);
    }
    for (const [key, value] of current) {
      // Compared with the value as loaded, not with the sessionkit session, so changes made
      // through sessionOf() stay; compared deeply, so an array pushed in place still counts.
      if (!entry.snapshot.has(key) || !isDeepStrictEqual(entry.snapshot.get(key), value)) entry.session.set(key, value);
    }
    entry.snapshot = new Map([...current].map(([key, value]) => [key, snapshotOf(value)]));
  }

  async function commitHeader(entry: Loaded): Promise<string> {
    const headers = await engine.commit(entry.session);
    // The cookie transport sets one cookie at most; React Router sends the string as is.
    return headers.getSetCookie()[0] ?? "";
  }

  return {
    async getSession(input) {
      const headers =
        input instanceof Request
          ? input.headers
          : input instanceof Headers
            ? input
            : new Headers(input ? { cookie: input } : undefined);
      const session = await engine.load(headers, { ip: options.ip?.(headers) ?? null });
      const data: Record<string, unknown> = {};
      for (const key of session.keys()) data[key] = session.get(key);
      const routed = createSession(data as Partial<Data & RouterSessionData>, session.id) as Routed;
      loaded.set(routed, { session, snapshot: new Map(Object.entries(data).map(([k, v]) => [k, snapshotOf(v)])) });
      return routed;
    },
    async commitSession(session) {
      const entry = entryOf(session, "commitSession");
      sync(session, entry);
      return commitHeader(entry);
    },
    async destroySession(session) {
      const entry = entryOf(session, "destroySession");
      entry.session.destroy();
      return commitHeader(entry);
    },
    sessionOf(session) {
      return entryOf(session, "sessionOf").session as unknown as Session<Data>;
    },
  };
}
