import { SessionCookieTooLargeError } from "../contract/errors.js";
import { clearCookieHeader, setCookieHeader, type Transport } from "./transport.js";

/** Browsers drop a Set-Cookie line longer than this. */
const MAX_SET_COOKIE = 4096;

/** The `Vary` value every session response carries: the request headers a token can come in. */
export function varyFor(transports: readonly Transport[]): string {
  return transports.map((t) => (t.kind === "cookie" ? "Cookie" : t.header)).join(", ");
}

/** A response that says nothing about the token. */
export function plainHeaders(vary: string): Headers {
  return new Headers({ vary });
}

/**
 * A response that sends the token on `transport`. Throws `SessionCookieTooLargeError` when the
 * cookie would be too big, so the executor calls it before writing anything.
 */
export function tokenHeaders(vary: string, transport: Transport, value: string, expiresAt: number | null, now: number): Headers {
  const headers = new Headers({ vary, "cache-control": "no-store" });
  if (transport.kind === "header") {
    headers.set(transport.header, transport.header === "authorization" ? `Bearer ${value}` : value);
    return headers;
  }
  const maxAge = expiresAt === null ? null : Math.max(0, Math.floor((expiresAt - now) / 1000));
  const line = setCookieHeader(transport.cookie, value, maxAge, now);
  const size = `Set-Cookie: ${line}`.length;
  if (size > MAX_SET_COOKIE) throw new SessionCookieTooLargeError(size);
  headers.append("set-cookie", line);
  return headers;
}

/** A response that makes the client drop its token (a header transport has nothing to clear). */
export function clearingHeaders(vary: string, transport: Transport): Headers {
  if (transport.kind !== "cookie") return plainHeaders(vary);
  const headers = new Headers({ vary, "cache-control": "no-store" });
  headers.append("set-cookie", clearCookieHeader(transport.cookie));
  return headers;
}
