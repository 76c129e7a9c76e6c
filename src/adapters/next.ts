import { parseSetCookie } from "cookie";
import { cookies, headers } from "next/headers.js";
import { cache } from "react";
import type { Session, Sessions } from "../index.js";

/** Options of `nextSessions`. */
export interface NextSessionOptions {
  /**
   * The client IP recorded on new sessions, from the request headers. `next start` has no
   * trustworthy client address of its own, so none is recorded unless you say which header
   * your proxy sets. @default none
   * @example `ip: (h) => h.get("x-forwarded-for")?.split(",")[0]?.trim()`
   */
  ip?: (headers: Headers) => string | null | undefined;
}

/** Session access for one Next.js App Router app; made once with `nextSessions(sessions)`. */
export interface NextSessions<Data extends object> {
  /**
   * The request's session, for **server actions and route handlers**: change it, then
   * `await commit(session)` (or use `update`). Each call loads afresh.
   */
  load(): Promise<Session<Data>>;
  /**
   * Writes the session's changes and puts its cookie on the response through `cookies()`.
   * Only server actions and route handlers may do this (Next.js throws in a server component).
   */
  commit(session: Session<Data>): Promise<void>;
  /**
   * `load`, run `change`, `commit`: the usual body of a server action. The session is committed
   * even when `change` throws (so `redirect()` inside it works), then the error goes on.
   */
  update<T>(change: (session: Session<Data>) => T | Promise<T>): Promise<T>;
  /**
   * The request's session for **server components** (layouts, pages): read-only, loaded once
   * per render however many components ask. Never commits, so changes made to it are lost and
   * a server-component render does not refresh the session's idle timeout; the next server
   * action or route handler that commits does.
   */
  read(): Promise<Session<Data>>;
  /**
   * For **middleware / proxy**: the `cookieKeys` values the cookie carries, verified and
   * decrypted, with no store call; null without a valid cookie. A store cannot be asked there,
   * so a revoked session still peeks until its cookie expires: use it to route (send signed-out
   * visitors to /login early), never to authorize; the page or action behind it must `read()`
   * or `load()`.
   */
  peek(request: Request): Partial<Data> | null;
}

/** The request as the engine reads it: Next's headers with the cookie jar's current cookies. */
async function requestHeaders(): Promise<Headers> {
  const [incoming, jar] = await Promise.all([headers(), cookies()]);
  const result = new Headers(incoming);
  // After a server action sets or clears the session cookie, Next renders the page again in
  // the same request with the updated jar, but headers() still has the original Cookie line.
  // Reading the jar makes that render see the session the action just committed (a rotated
  // token after login, none after logout) instead of the stale one.
  const pairs = jar.getAll().map((c) => `${c.name}=${encodeURIComponent(c.value)}`);
  if (pairs.length > 0) result.set("cookie", pairs.join("; "));
  else result.delete("cookie");
  return result;
}

/**
 * Sessions for the Next.js App Router (tested on Next 16): server actions and route handlers
 * load, change and commit the session through `cookies()` from `next/headers`; server
 * components only read it; middleware (`proxy.ts` in Next 16) can only `peek`.
 *
 * The token travels in the cookie; for the `authorization` / `x-session-token` transports use
 * the core in a route handler (`sessions.load(request)`, `applySessionHeaders`).
 *
 * @example
 * ```ts
 * // lib/session.ts
 * export const auth = nextSessions(createSessions<{ name: string }>({ store, secrets }));
 *
 * // app/page.tsx (a server component)
 * const session = await auth.read();
 *
 * // app/actions.ts
 * "use server";
 * export async function signIn(form: FormData) {
 *   await auth.update((session) => session.login(String(form.get("user"))));
 *   redirect("/");
 * }
 * ```
 */
export function nextSessions<Data extends object>(
  sessions: Sessions<Data>,
  options: NextSessionOptions = {},
): NextSessions<Data> {
  async function load(): Promise<Session<Data>> {
    const request = await requestHeaders();
    return sessions.load(request, { ip: options.ip?.(request) ?? null });
  }

  async function commit(session: Session<Data>): Promise<void> {
    const result = await sessions.commit(session);
    const jar = await cookies();
    // Next owns the response in actions and rendering: the cookie jar is the one way to set a
    // cookie there, so each Set-Cookie line goes back in through it with all its attributes.
    // Vary and Cache-Control are left to Next, which marks every cookies() user dynamic.
    for (const line of result.getSetCookie()) {
      const { name, value, ...attributes } = parseSetCookie(line, { decode: (s) => s });
      if (!name) continue;
      jar.set({ name, value: value ?? "", ...attributes });
    }
  }

  return {
    load,
    commit,
    async update(change) {
      const session = await load();
      let outcome: Awaited<ReturnType<typeof change>>;
      try {
        outcome = await change(session);
      } catch (error) {
        await commit(session);
        throw error;
      }
      await commit(session);
      return outcome;
    },
    // React's cache() memoizes per server-component render, so a layout and a page that both
    // read the session cost one store read.
    read: cache(load),
    peek(request) {
      return sessions.peek(request);
    },
  };
}
