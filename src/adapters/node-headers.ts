import type { HeaderReader } from "../core/load.js";
import { mergeVary } from "../http/apply-headers.js";
import type { CommitHeaders } from "../http/response-headers.js";

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
export function applyNodeHeaders(target: HeaderTarget, headers: CommitHeaders): void {
  if (headers.setCookie !== null) {
    const line = headers.setCookie;
    const name = cookieName(line);
    const existing = target.getHeader("set-cookie");
    if (existing === undefined) target.setHeader("set-cookie", [line]);
    else {
      const lines = Array.isArray(existing) ? existing : [String(existing)];
      target.setHeader("set-cookie", [...lines.filter((other) => cookieName(other) !== name), line]);
    }
  }
  const vary = target.getHeader("vary");
  // The usual case, nobody else set Vary: no parsing.
  target.setHeader("vary", vary === undefined ? headers.vary : mergeVary(String(vary), headers.vary));
  if (headers.cacheControl !== null && target.getHeader("cache-control") === undefined) {
    target.setHeader("cache-control", headers.cacheControl);
  }
  if (headers.token !== null) target.setHeader(headers.token.name, headers.token.value);
}

const cookieName = (line: string) => line.slice(0, Math.max(0, line.indexOf("="))).trim();

/**
 * A {@link HeaderReader} over Node's `req.headers` (lower-case names; Node already joins
 * repeated Cookie headers with "; "), so no Web `Headers` is built per request.
 */
export function nodeHeaderReader(source: Record<string, string | string[] | undefined>): HeaderReader {
  return {
    get(name) {
      const value = source[name];
      if (value === undefined) return null;
      return typeof value === "string" ? value : value.join(name === "cookie" ? "; " : ", ");
    },
  };
}
