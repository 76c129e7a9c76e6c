import { mergeVary } from "../http/apply-headers.js";
import type { Transport } from "../http/transport.js";

/** The part of a Node `ServerResponse` (or a framework reply) the merge needs. */
export interface HeaderTarget {
  getHeader(name: string): number | string | string[] | undefined;
  setHeader(name: string, value: string | string[]): unknown;
}

/**
 * Node-response twin of `applySessionHeaders`: the same merge rules on `getHeader`/`setHeader`.
 * Set-Cookie is appended (a session cookie the app already set under the same name is
 * replaced, so a response never carries two values for one cookie), Vary is merged, and
 * Cache-Control is set only when the app set none.
 */
export function applyNodeHeaders(target: HeaderTarget, sessionHeaders: Headers): void {
  const cookies = sessionHeaders.getSetCookie();
  if (cookies.length > 0) {
    const names = new Set(cookies.map(cookieName));
    const existing = target.getHeader("set-cookie");
    const kept = (existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]).filter(
      (line) => !names.has(cookieName(line)),
    );
    target.setHeader("set-cookie", [...kept, ...cookies]);
  }
  sessionHeaders.forEach((value, name) => {
    if (name === "set-cookie") return;
    if (name === "vary") {
      const existing = target.getHeader("vary");
      target.setHeader("vary", mergeVary(existing === undefined ? null : String(existing), value));
    } else if (name === "cache-control") {
      if (target.getHeader("cache-control") === undefined) target.setHeader("cache-control", value);
    } else target.setHeader(name, value);
  });
}

const cookieName = (line: string) => line.slice(0, Math.max(0, line.indexOf("="))).trim();

/**
 * Copies the few request headers the engine reads (cookie, the configured token headers,
 * user-agent) into a Web `Headers`, rather than converting every header of every request.
 */
export function pickHeaders(source: Record<string, string | string[] | undefined>, names: readonly string[]): Headers {
  const headers = new Headers();
  for (const name of names) {
    const value = source[name];
    if (value === undefined) continue;
    // Node joins repeated cookie headers with "; " and others with ", ".
    headers.set(name, Array.isArray(value) ? value.join(name === "cookie" ? "; " : ", ") : value);
  }
  return headers;
}

/**
 * The request headers the engine reads for this configuration: cookie and/or the token
 * headers, plus user-agent (recorded on new sessions).
 */
export function sessionHeaderNames(transports: readonly Transport[]): string[] {
  const names = new Set<string>(["user-agent"]);
  for (const t of transports) names.add(t.kind === "cookie" ? "cookie" : t.header);
  return [...names];
}
