import { SessionConfigError } from "../contract/errors.js";

/** How the session cookie is set. Every field has a safe default. */
export interface CookieOptions {
  /** Cookie name; gets the `__Host-` prefix when `hostPrefix` applies. @default "sid" */
  name?: string;
  /** @default true, except when NODE_ENV is "development" */
  secure?: boolean;
  /** @default true */
  httpOnly?: boolean;
  /** @default "lax" */
  sameSite?: "lax" | "strict" | "none";
  /** @default "/" */
  path?: string;
  /** Setting a domain shares the cookie with subdomains and rules out `__Host-`. @default undefined */
  domain?: string;
  /** CHIPS partitioned cookie (for third-party embeds). @default false */
  partitioned?: boolean;
  /**
   * Prefix the name with `__Host-` when the cookie is Secure, Path=/ and has no Domain, so
   * the browser refuses the cookie from subdomains or insecure origins (cookie tossing).
   * @default true
   */
  hostPrefix?: boolean;
}

export interface ResolvedCookieOptions {
  /** The name on the wire, prefix included. */
  readonly name: string;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: "lax" | "strict" | "none";
  readonly path: string;
  readonly domain: string | undefined;
  readonly partitioned: boolean;
}

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function resolveCookieOptions(options: CookieOptions = {}): ResolvedCookieOptions {
  const name = options.name ?? "sid";
  if (!TOKEN_CHARS.test(name))
    throw new SessionConfigError(`cookie.name ${JSON.stringify(name)} has characters a cookie name cannot hold`);
  const secure = options.secure ?? process.env.NODE_ENV !== "development";
  const sameSite = options.sameSite ?? "lax";
  if (!["lax", "strict", "none"].includes(sameSite)) {
    throw new SessionConfigError(`cookie.sameSite must be "lax", "strict" or "none", got ${JSON.stringify(sameSite)}`);
  }
  if (sameSite === "none" && !secure) {
    throw new SessionConfigError('cookie.sameSite "none" needs secure: true (browsers drop the cookie otherwise)');
  }
  const path = options.path ?? "/";
  const domain = options.domain;
  // Checked once here, not at every commit: a ";" or a line break would inject attributes or headers.
  for (const [field, value] of [
    ["path", path],
    ["domain", domain],
  ] as const) {
    if (value !== undefined && (typeof value !== "string" || /[;\r\n\0]/.test(value) || value.length > 1024)) {
      throw new SessionConfigError(
        `cookie.${field} ${JSON.stringify(value)} cannot be a cookie attribute (no ";", CR, LF or NUL)`,
      );
    }
  }
  if (!path.startsWith("/")) throw new SessionConfigError(`cookie.path must start with "/", got ${JSON.stringify(path)}`);
  const hostPrefix = (options.hostPrefix ?? true) && secure && path === "/" && domain === undefined;
  const alreadyPrefixed = name.startsWith("__Host-") || name.startsWith("__Secure-");
  return Object.freeze({
    name: hostPrefix && !alreadyPrefixed ? `__Host-${name}` : name,
    secure,
    httpOnly: options.httpOnly ?? true,
    sameSite,
    path,
    domain,
    partitioned: options.partitioned ?? false,
  });
}
