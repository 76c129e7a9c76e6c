import { SessionError } from "../contract/errors.js";

/** Methods that must not change state, so they need no CSRF token (RFC 9110 §9.2.1). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/** Whether a request method needs a CSRF check. */
export function isUnsafeMethod(method: string | undefined): boolean {
  return !SAFE_METHODS.has((method ?? "GET").toUpperCase());
}

/** Where the CSRF middlewares look for the token. */
export interface CsrfOptions {
  /** Request header carrying the token (fetch / XHR clients). @default "x-csrf-token" */
  header?: string;
  /** Form field carrying the token (HTML forms; the body must be parsed before the check). @default "_csrf" */
  field?: string;
}

/** The resolved names, lowercased header. */
export function resolveCsrfOptions(options: CsrfOptions = {}): { header: string; field: string } {
  return { header: (options.header ?? "x-csrf-token").toLowerCase(), field: options.field ?? "_csrf" };
}

/** The submitted token: the header first, else the form field of an already parsed body. */
export function submittedCsrfToken(headerValue: unknown, body: unknown, field: string): string | undefined {
  if (typeof headerValue === "string" && headerValue.length > 0) return headerValue;
  if (body !== null && typeof body === "object") {
    const value = (body as Record<string, unknown>)[field];
    if (typeof value === "string") return value;
  }
  return undefined;
}

/**
 * An unsafe request (POST, PUT, PATCH, DELETE...) came without the session's CSRF token, or
 * with a wrong one. Carries `status`/`statusCode` 403 and `expose: true`, which Express, Koa
 * and Fastify error handling turn into a 403 response.
 */
export class SessionCsrfError extends SessionError {
  readonly status = 403;
  readonly statusCode = 403;
  readonly expose = true;

  constructor() {
    super(
      "SESSION_CSRF",
      "[sessionkit] [csrf] missing or invalid CSRF token. Send session.csrfToken() in the x-csrf-token header or the _csrf form field of every unsafe request.",
    );
  }
}
