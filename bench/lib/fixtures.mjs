// Settings both sides of every pair share, so a ratio compares session layers and nothing else.

/** Same length (48 chars) for both libraries: sessionkit derives keys from it, express-session HMACs with it. */
export const SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz".slice(0, 48);

/** Session lifetime on both sides: sessionkit idleTimeout, express-session cookie.maxAge and store TTL. */
export const TTL_MS = 24 * 60 * 60 * 1000;

/** Cookie name on both sides (sessionkit's `__Host-` prefix is off because cookies are not Secure over plain HTTP). */
export const COOKIE_NAME = "sid";

/**
 * The ~1 KB of data every seeded session holds: a signed-in user, an eight-line cart, preferences, recently viewed items,
 * the shape of a typical web-app session. `counter` is the key the write scenario changes.
 */
export function sessionPayload(i) {
  return {
    user: { id: `user-${i}`, name: "Ada Lovelace", email: `ada${i}@example.com`, roles: ["customer", "beta"] },
    cart: Array.from({ length: 8 }, (_, n) => ({
      sku: `SKU-${1000 + n}`,
      name: `Product number ${n}`,
      qty: 1 + (n % 3),
      price: 19.99,
    })),
    prefs: { theme: "dark", locale: "en-GB", currency: "EUR", newsletter: false, timezone: "Europe/London" },
    flash: null,
    csrfSeed: "c2Vzc2lvbmtpdC1iZW5jaC1jc3JmLXNlZWQtdmFsdWU",
    lastSearch: "wireless headphones with noise cancelling and long battery life",
    recentlyViewed: Array.from({ length: 8 }, (_, n) => `SKU-${2000 + n}`),
    counter: 0,
  };
}

/** Bytes of `sessionPayload` as JSON, printed in the report so readers know what "~1 KB" means. */
export const PAYLOAD_BYTES = Buffer.byteLength(JSON.stringify(sessionPayload(0)));

/** `name=value` from a Set-Cookie line (what a browser sends back). */
export function cookiePair(setCookie) {
  if (typeof setCookie !== "string" || setCookie === "") throw new Error("[bench] expected a Set-Cookie header, got none");
  return setCookie.split(";", 1)[0];
}

/** A short random suffix for table names and key prefixes, so runs never collide. */
export function uniqueSuffix() {
  return `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}
