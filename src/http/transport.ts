import { parse as parseCookie, serialize as serializeCookie } from "cookie";
import { SessionConfigError } from "../contract/errors.js";
import { type CookieOptions, type ResolvedCookieOptions, resolveCookieOptions } from "./cookie-options.js";

/** How the token travels: a cookie (browsers) or a request header (API clients). */
export type TransportOption = "cookie" | { header: string };

/** One resolved transport. */
export type Transport =
  | { readonly kind: "cookie"; readonly cookie: ResolvedCookieOptions }
  | { readonly kind: "header"; readonly header: string };

const verbatim = (value: string) => value;

/** Refuse absurd inputs before parsing them. 8 KiB is a common server header limit. */
const MAX_INPUT = 8192;

export function resolveTransports(option: TransportOption | TransportOption[] | undefined, cookie?: CookieOptions): Transport[] {
  const list = option === undefined ? ["cookie" as const] : Array.isArray(option) ? option : [option];
  if (list.length === 0) throw new SessionConfigError('transport must name at least one transport, e.g. "cookie"');
  const out = list.map((t): Transport => {
    if (t === "cookie") return { kind: "cookie", cookie: resolveCookieOptions(cookie) };
    if (t && typeof t === "object" && typeof t.header === "string" && /^[a-z0-9-]+$/i.test(t.header)) {
      if (t.header.toLowerCase() === "cookie")
        throw new SessionConfigError('use transport "cookie" rather than { header: "cookie" }');
      return { kind: "header", header: t.header.toLowerCase() };
    }
    throw new SessionConfigError(
      `transport must be "cookie", { header: "authorization" } or { header: "x-session-token" } (or a list of them), got ${JSON.stringify(t)}`,
    );
  });
  if (new Set(out.map((t) => (t.kind === "cookie" ? "cookie" : t.header))).size !== out.length) {
    throw new SessionConfigError("transport lists the same transport twice");
  }
  return out;
}

/**
 * Where a request's headers are read from: a Web `Headers`, or any object whose `get(name)`
 * answers like it for lower-case names (adapters pass a view over Node's `req.headers`, so
 * no `Headers` object is built per request).
 */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * The raw value the transport carries in this request, `undefined` when absent.
 * Never throws, whatever the header holds.
 */
export function readTransport(transport: Transport, headers: HeaderReader): string | undefined {
  if (transport.kind === "cookie") {
    const raw = headers.get("cookie");
    if (!raw || raw.length > MAX_INPUT * 2) return undefined;
    // No percent-decoding: a token has one spelling, the characters issued (base64url, hex,
    // dots), so "%41..." must not be read as "A...".
    return parseCookie(raw, { decode: verbatim })[transport.cookie.name] || undefined;
  }
  const raw = headers.get(transport.header);
  if (!raw || raw.length > MAX_INPUT) return undefined;
  if (transport.header === "authorization") {
    const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(raw);
    return match?.[1];
  }
  return raw.trim() || undefined;
}

/** The attributes every session cookie line shares. */
const attributes = (cookie: ResolvedCookieOptions) => ({
  httpOnly: cookie.httpOnly,
  secure: cookie.secure,
  sameSite: cookie.sameSite,
  path: cookie.path,
  domain: cookie.domain,
  partitioned: cookie.partitioned || undefined,
});

/** The Set-Cookie header value for a session cookie; `maxAgeSeconds` null = browser-session cookie. */
export function setCookieHeader(cookie: ResolvedCookieOptions, value: string, maxAgeSeconds: number | null, now: number): string {
  return serializeCookie(cookie.name, value, {
    ...attributes(cookie),
    ...(maxAgeSeconds === null ? {} : { maxAge: maxAgeSeconds, expires: new Date(now + maxAgeSeconds * 1000) }),
    encode: (s) => s, // our values are base64url and dots: nothing to escape
  });
}

/** A Set-Cookie that makes the browser drop the cookie. */
export function clearCookieHeader(cookie: ResolvedCookieOptions): string {
  return serializeCookie(cookie.name, "", { ...attributes(cookie), maxAge: 0, expires: new Date(0) });
}
