import { SessionCookieTooLargeError } from "../contract/errors.js";
import { clearCookieHeader, setCookieHeader, type Transport } from "./transport.js";

/** Browsers drop a Set-Cookie line longer than this. */
const MAX_SET_COOKIE = 4096;

/**
 * What a commit adds to a response, as plain fields: adapters on Node responses set them
 * directly, Web adapters turn them into `Headers` (`toWebHeaders`). No `Headers` object is
 * built where none is needed.
 */
export interface CommitHeaders {
  /** The request headers a token can come in (`Cookie`, a token header): always sent. */
  readonly vary: string;
  /** "no-store" whenever a token is set or cleared, else null. */
  readonly cacheControl: string | null;
  /** The session cookie line (set or clear), or null. */
  readonly setCookie: string | null;
  /** The token header of a header transport (`authorization: Bearer ...`), or null. */
  readonly token: { readonly name: string; readonly value: string } | null;
}

/** The `Vary` value every session response carries: the request headers a token can come in. */
export function varyFor(transports: readonly Transport[]): string {
  return transports.map((t) => (t.kind === "cookie" ? "Cookie" : t.header)).join(", ");
}

/** A response that says nothing about the token. */
export function plainHeaders(vary: string): CommitHeaders {
  return { vary, cacheControl: null, setCookie: null, token: null };
}

/**
 * A response that sends the token on `transport`. Throws `SessionCookieTooLargeError` when the
 * cookie would be too big, so the executor calls it before writing anything.
 */
export function tokenHeaders(
  vary: string,
  transport: Transport,
  value: string,
  expiresAt: number | null,
  now: number,
): CommitHeaders {
  if (transport.kind === "header") {
    const headerValue = transport.header === "authorization" ? `Bearer ${value}` : value;
    return { vary, cacheControl: "no-store", setCookie: null, token: { name: transport.header, value: headerValue } };
  }
  const maxAge = expiresAt === null ? null : Math.max(0, Math.floor((expiresAt - now) / 1000));
  const line = setCookieHeader(transport.cookie, value, maxAge, now);
  const size = `Set-Cookie: ${line}`.length;
  if (size > MAX_SET_COOKIE) throw new SessionCookieTooLargeError(size);
  return { vary, cacheControl: "no-store", setCookie: line, token: null };
}

/** A response that makes the client drop its token (a header transport has nothing to clear). */
export function clearingHeaders(vary: string, transport: Transport): CommitHeaders {
  if (transport.kind !== "cookie") return plainHeaders(vary);
  return { vary, cacheControl: "no-store", setCookie: clearCookieHeader(transport.cookie), token: null };
}

/**
 * Headers of a later commit in the same request over those of earlier ones: the latest token
 * (cookie or header) wins, Cache-Control stays once set. Vary is the same for every commit of
 * one configuration.
 */
export function mergeCommitHeaders(earlier: CommitHeaders | null, later: CommitHeaders): CommitHeaders {
  if (earlier === null) return later;
  return {
    vary: later.vary,
    cacheControl: later.cacheControl ?? earlier.cacheControl,
    setCookie: later.setCookie ?? earlier.setCookie,
    token: later.token ?? earlier.token,
  };
}

/** The Web `Headers` form (what `sessions.commit()` returns). */
export function toWebHeaders(headers: CommitHeaders): Headers {
  const out = new Headers({ vary: headers.vary });
  if (headers.cacheControl !== null) out.set("cache-control", headers.cacheControl);
  if (headers.token !== null) out.set(headers.token.name, headers.token.value);
  if (headers.setCookie !== null) out.append("set-cookie", headers.setCookie);
  return out;
}

/** The plain form of Web `Headers` a commit returned (for a `Sessions` without the internal path). */
export function fromWebHeaders(headers: Headers, transports: readonly Transport[]): CommitHeaders {
  const tokenHeader = transports.find((t) => t.kind === "header" && headers.has(t.header));
  return {
    vary: headers.get("vary") ?? varyFor(transports),
    cacheControl: headers.get("cache-control"),
    setCookie: headers.getSetCookie()[0] ?? null,
    token: tokenHeader?.kind === "header" ? { name: tokenHeader.header, value: headers.get(tokenHeader.header) as string } : null,
  };
}
