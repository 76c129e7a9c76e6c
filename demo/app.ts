import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { csrfProtection, type ExpressSession, SessionCsrfError, sessionMiddleware } from "../src/adapters/express.js";
import type { SessionStore } from "../src/contract/store.js";
import type { Session } from "../src/core/session.js";
import { createSessions, type Sessions } from "../src/core/sessions.js";
import type { Secret } from "../src/crypto/keyring.js";
import { type CartLine, COOKIE_LIMIT, cartLine, findProduct, jsonBytes, MAX_CART_LINES, PRODUCTS } from "./cart.js";
import type { SafeHtml } from "./html.js";
import { type LayoutContext, layout } from "./layout.js";
import { devicesPage } from "./pages/devices.js";
import { homePage } from "./pages/home.js";
import { errorPage, refusedPage } from "./pages/refused.js";
import { signInPage } from "./pages/sign-in.js";
import { describeUserAgent } from "./user-agent.js";
import { DEMO_USERS, findUser } from "./users.js";

/** What the demo keeps in a session. */
export interface DemoData {
  visits: number;
  cart: CartLine[];
  /** A one-shot message for the next page (post/redirect/get). */
  flash: Notice;
}

type Notice = NonNullable<LayoutContext["notice"]>;

/** Options of {@link createDemoApp}. */
export interface DemoAppOptions {
  /** Where sessions live (the server passes the store `SESSIONKIT_STORE` names). */
  store: SessionStore;
  /** 32+ byte secrets; the first signs and encrypts. */
  secrets: readonly Secret[];
  /**
   * Send the cookie with `Secure`. Browsers drop Secure cookies on plain http://127.0.0.1 in
   * some setups and the `__Host-` prefix that comes with Secure needs https, so the demo
   * turns it off unless NODE_ENV=production (where it must run behind https).
   * @default process.env.NODE_ENV === "production"
   */
  secureCookie?: boolean;
  /** Current time in ms (tests). @default Date.now */
  clock?: () => number;
}

export interface DemoApp {
  app: Express;
  sessions: Sessions<DemoData>;
  /** Closes the sessions (and their store). */
  close(): Promise<void>;
}

/**
 * The demo app `npm start` serves: Home (visit counter and cart in the session), Sign in,
 * Devices (list, revoke, sign out others), Sign out; every form carries a CSRF token.
 *
 * @example
 * ```ts
 * import { memoryStore } from "../src/stores/memory.js";
 * const { app } = createDemoApp({ store: memoryStore(), secrets: ["a secret of at least 32 bytes......"] });
 * app.listen(3000, "127.0.0.1");
 * ```
 */
export function createDemoApp(options: DemoAppOptions): DemoApp {
  const clock = options.clock ?? Date.now;
  const sessions = createSessions<DemoData>({
    store: options.store,
    secrets: options.secrets,
    cookie: { name: "sid", secure: options.secureCookie ?? process.env.NODE_ENV === "production" },
    // A day without use ends a session, unless "keep me signed in" gave it 30 days.
    idleTimeout: "1d",
    absoluteTimeout: "90d",
    maxIdleTimeout: "30d",
    pruneInterval: "1h",
    clock,
  });
  const transport = sessions.config.transports.find((t) => t.kind === "cookie");
  const cookieName = transport?.kind === "cookie" ? transport.cookie.name : "sid";

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use((_req, res, next) => {
    // Every page shows this session's data: never cache it anywhere.
    res.setHeader("cache-control", "no-store");
    // Inline styles only, no scripts, forms only to this site, never framed.
    res.setHeader(
      "content-security-policy",
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "same-origin");
    next();
  });
  app.use(sessionMiddleware(sessions));
  app.use(express.urlencoded({ extended: false, limit: "16kb" }));
  app.use(csrfProtection());

  const sessionOf = (req: Request) =>
    (req as unknown as { session: ExpressSession }).session.sessionkit as unknown as Session<DemoData>;
  const userName = (session: Session<DemoData>) =>
    session.userId === null ? null : (findUser(session.userId)?.name ?? session.userId);
  const field = (req: Request, name: string): unknown => (req.body as Record<string, unknown> | undefined)?.[name];

  /** The session cookie as the browser sent it (`name=value`), or null. */
  function sentCookie(req: Request): string | null {
    for (const part of (req.headers.cookie ?? "").split(";")) {
      const pair = part.trim();
      if (pair.startsWith(`${cookieName}=`)) return pair;
    }
    return null;
  }

  /** The flash message, or why this browser's session is gone, or the sign-out confirmation. */
  function takeNotice(req: Request, session: Session<DemoData>): Notice | null {
    const flash = session.get("flash");
    if (flash) {
      session.delete("flash");
      return flash;
    }
    // The browser sent a session cookie, yet the session is new: its token was revoked, expired or forged.
    if (session.isNew && sentCookie(req) !== null) {
      return { kind: "warn", text: "This browser's session has ended: it was signed out from another device, or it expired." };
    }
    if (req.query.bye !== undefined) return { kind: "info", text: "Signed out. The session was deleted on the server." };
    return null;
  }

  function send(res: Response, status: number, ctx: LayoutContext, content: SafeHtml) {
    res.status(status).type("html").send(layout(ctx, content).value);
  }

  function frame(req: Request, session: Session<DemoData>, title: string, active: LayoutContext["active"]): LayoutContext {
    const name = userName(session);
    return { title, active, userName: name, csrf: name === null ? null : session.csrfToken(), notice: takeNotice(req, session) };
  }

  app.get("/", (req, res) => {
    const session = sessionOf(req);
    session.set("visits", (session.get("visits") ?? 0) + 1);
    const ctx = frame(req, session, "Home", "home");
    const cookie = session.isNew ? null : sentCookie(req);
    const view = {
      userName: ctx.userName,
      visits: session.get("visits") ?? 0,
      cart: session.get("cart") ?? [],
      dataBytes: jsonBytes(session.toJSON()),
      cookieBytes: cookie === null ? null : Buffer.byteLength(cookie),
      cookieName,
      csrf: session.csrfToken(),
    };
    send(res, 200, ctx, homePage(view));
  });

  app.get("/signin", (req, res) => {
    const session = sessionOf(req);
    const ctx = frame(req, session, "Sign in", "signin");
    send(res, 200, ctx, signInPage(DEMO_USERS, session.csrfToken()));
  });

  app.post("/signin", async (req, res) => {
    const session = sessionOf(req);
    const user = findUser(field(req, "user"));
    if (!user) {
      const ctx = {
        ...frame(req, session, "Sign in", "signin" as const),
        notice: { kind: "warn", text: "Pick one of the demo users." } as const,
      };
      send(res, 400, ctx, signInPage(DEMO_USERS, session.csrfToken()));
      return;
    }
    // New token, same data: a token planted in this browser before sign-in is now worthless.
    await session.login(user.id);
    const remember = field(req, "remember") === "1";
    // Remembered: 30 days of sliding inactivity and a lasting cookie. Otherwise the cookie is
    // dropped when the browser closes, and the server ends the session after a day unused.
    session.setLifetime(remember ? { idle: "30d", persistent: true } : { persistent: false });
    session.set("flash", {
      kind: "info",
      text: `Signed in as ${user.name}${remember ? " for 30 days" : ""}. This browser got a new session token.`,
    });
    res.redirect(303, "/");
  });

  app.post("/signout", (req, res) => {
    sessionOf(req).destroy();
    res.redirect(303, "/?bye");
  });

  app.post("/cart/add", (req, res) => {
    const session = sessionOf(req);
    const product = findProduct(field(req, "sku"));
    const cart = session.get("cart") ?? [];
    if (product && cart.length < MAX_CART_LINES) session.set("cart", [...cart, cartLine(product, new Date(clock()))]);
    res.redirect(303, "/");
  });

  app.post("/cart/fill", (req, res) => {
    const session = sessionOf(req);
    const cart = [...(session.get("cart") ?? [])];
    // Grow the data past the next multiple of 4 KB: past what any cookie could carry.
    const target = (Math.floor(jsonBytes(session.toJSON()) / COOKIE_LIMIT) + 1) * COOKIE_LIMIT;
    for (let i = cart.length; cart.length < MAX_CART_LINES; i++) {
      cart.push(cartLine(PRODUCTS[i % PRODUCTS.length] as (typeof PRODUCTS)[number], new Date(clock())));
      if (jsonBytes({ ...session.toJSON(), cart }) > target) break;
    }
    session.set("cart", cart);
    res.redirect(303, "/");
  });

  app.post("/cart/clear", (req, res) => {
    sessionOf(req).delete("cart");
    res.redirect(303, "/");
  });

  app.get("/devices", async (req, res) => {
    const session = sessionOf(req);
    if (session.userId === null) {
      const notice = takeNotice(req, session) ?? { kind: "info", text: "Sign in to see your devices." };
      session.set("flash", notice);
      res.redirect(303, "/signin");
      return;
    }
    const ctx = frame(req, session, "Devices", "devices");
    const list = await sessions.list(session.userId, { current: session });
    send(res, 200, ctx, devicesPage({ userName: ctx.userName ?? "", sessions: list, csrf: session.csrfToken(), now: clock() }));
  });

  app.post("/devices/revoke", async (req, res) => {
    const session = sessionOf(req);
    if (session.userId === null) {
      res.redirect(303, "/signin");
      return;
    }
    const id = field(req, "id");
    // Only the user's own sessions: an id taken from elsewhere must not sign out someone else.
    const target = (await sessions.list(session.userId, { current: session })).find((s) => s.id === id);
    if (!target) {
      session.set("flash", { kind: "warn", text: "That device is no longer signed in." });
    } else if (target.current) {
      session.destroy();
      res.redirect(303, "/?bye");
      return;
    } else {
      await sessions.revoke(target.id);
      const device = describeUserAgent(target.userAgent);
      session.set("flash", {
        kind: "info",
        text: `Signed out ${device.browser} on ${device.os} (session ${target.id.slice(0, 8)}).`,
      });
    }
    res.redirect(303, "/devices");
  });

  app.post("/devices/revoke-others", async (req, res) => {
    const session = sessionOf(req);
    if (session.userId === null) {
      res.redirect(303, "/signin");
      return;
    }
    const count = await sessions.revokeUser(session.userId, { except: session });
    session.set("flash", { kind: "info", text: `Signed out ${count} other device${count === 1 ? "" : "s"}.` });
    res.redirect(303, "/devices");
  });

  app.use((req, res) => {
    const session = sessionOf(req);
    send(res, 404, frame(req, session, "Not found", null), errorPage("There is no such page."));
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof SessionCsrfError) {
      const session = sessionOf(req);
      const name = userName(session);
      const ctx: LayoutContext = {
        title: "Form refused",
        active: null,
        userName: name,
        csrf: name === null ? null : session.csrfToken(),
      };
      send(res, 403, ctx, refusedPage());
      return;
    }
    // Store failures land here (never as a silent fresh session): log them, answer 500.
    console.error(error);
    const ctx: LayoutContext = { title: "Error", active: null, userName: null, csrf: null };
    send(res, 500, ctx, errorPage("The server could not handle this request. The details are in its log."));
  });

  return { app, sessions, close: () => sessions.close() };
}
