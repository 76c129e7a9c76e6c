/**
 * Merges the headers `commit()` returned into a response's headers, the way every adapter
 * does: Set-Cookie is appended, Vary is merged, and Cache-Control: no-store is added only if
 * the app did not set its own Cache-Control.
 *
 * @example
 * ```ts
 * const response = new Response("ok");
 * applySessionHeaders(response.headers, await sessions.commit(session));
 * ```
 */
export function applySessionHeaders(target: Headers, sessionHeaders: Headers): Headers {
  for (const cookie of sessionHeaders.getSetCookie()) target.append("set-cookie", cookie);
  sessionHeaders.forEach((value, name) => {
    if (name === "set-cookie") return;
    if (name === "vary") target.set("vary", mergeVary(target.get("vary"), value));
    else if (name === "cache-control") {
      if (!target.has("cache-control")) target.set("cache-control", value);
    } else target.set(name, value);
  });
  return target;
}

/** Adds Vary tokens without duplicating them ("*" absorbs everything). */
export function mergeVary(existing: string | null | undefined, added: string): string {
  const tokens = (existing ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  if (tokens.includes("*")) return "*";
  const lower = new Set(tokens.map((t) => t.toLowerCase()));
  for (const token of added
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean)) {
    if (!lower.has(token.toLowerCase())) {
      tokens.push(token);
      lower.add(token.toLowerCase());
    }
  }
  return tokens.join(", ");
}
