import type { Handle, RequestEvent } from "@sveltejs/kit";
import { applySessionHeaders } from "../http/apply-headers.js";
import type { Session, Sessions } from "../index.js";

/** Options of the SvelteKit handle. */
export interface SvelteKitSessionOptions {
  /**
   * Transport that answers a request carrying no token ("cookie" or a header name), when the
   * sessions are configured with several. @default the first configured
   */
  transport?: string | ((event: RequestEvent) => string | undefined);
  /**
   * The client IP recorded on new sessions. @default `event.getClientAddress()` (under
   * adapter-node: the socket address, or the `ADDRESS_HEADER` you configured), else none
   */
  ip?: (event: RequestEvent) => string | null | undefined;
}

function clientAddress(event: RequestEvent): string | null {
  try {
    return event.getClientAddress();
  } catch {
    return null; // adapters without a client address throw here; the IP is only informative
  }
}

/**
 * A SvelteKit `handle` hook: loads the session into `event.locals.session` before the route
 * (so `load` functions, form actions and endpoints share it) and commits it onto the response
 * after, redirects and error pages included. A store failure is thrown to SvelteKit's error
 * handling (a 500). Declare `session` in `App.Locals` (src/app.d.ts) to type it.
 *
 * @example
 * ```ts
 * // src/hooks.server.ts
 * export const handle = sessionHandle(sessions); // or sequence(sessionHandle(sessions), other)
 *
 * // src/app.d.ts
 * declare global {
 *   namespace App {
 *     interface Locals { session: import("sessionkit").Session<{ visits: number }> }
 *   }
 * }
 * ```
 */
export function sessionHandle<Data extends object>(sessions: Sessions<Data>, options: SvelteKitSessionOptions = {}): Handle {
  return async function sessionkitHandle({ event, resolve }) {
    const transport = typeof options.transport === "function" ? options.transport(event) : options.transport;
    const ip = options.ip ? (options.ip(event) ?? null) : clientAddress(event);
    const session: Session<Data> = await sessions.load(event.request, { ip, transport });
    (event.locals as unknown as { session: Session<Data> }).session = session;
    const response = await resolve(event);
    const headers = await sessions.commit(session);
    try {
      applySessionHeaders(response.headers, headers);
      return response;
    } catch {
      // Immutable headers (a Response passed through from fetch()): copy it.
      const copy = new Response(response.body, response);
      applySessionHeaders(copy.headers, headers);
      return copy;
    }
  };
}
