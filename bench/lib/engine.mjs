// Engine-level drivers (no HTTP, no sockets). Each side exposes the same four operations on the
// smallest public entry point of its library:
// - sessionkit: `sessions.load(headers)` + `sessions.commit(session)` on a Web `Headers`;
// - express-session: its middleware, called with a minimal request/response pair (the fields it
//   and on-headers touch), the response ended by the "handler" as an app would.
// Every operation checks that it found its seeded session, so a broken cookie can never
// masquerade as a fast run.
import { createRequire } from "node:module";
import { importDist } from "./dist.mjs";
import { COOKIE_NAME, cookiePair, SECRET, sessionPayload, TTL_MS } from "./fixtures.mjs";

const require = createRequire(import.meta.url);

/**
 * @typedef {object} EngineSide
 * @property {(count: number) => Promise<string[]>} seed  creates sessions holding the ~1 KB payload; returns their cookies
 * @property {(cookie: string) => Promise<void>} read  loads a session, reads two keys, commits (nothing changed)
 * @property {(cookie: string) => Promise<void>} write  loads a session, bumps `counter`, commits
 * @property {() => Promise<void>} visit  a request without a cookie that stores nothing
 * @property {(cookie: string) => Promise<number>} counterOf  the stored `counter` (to check writes landed)
 * @property {() => Promise<void>} close
 */

/** sessionkit's settings for every run (the HTTP server uses the same). */
export function sessionkitOptions(store) {
  return {
    store,
    secrets: [SECRET],
    idleTimeout: TTL_MS,
    // touchInterval, absoluteTimeout, serializer: defaults ("1m", "30d", "json").
    cookie: { name: COOKIE_NAME, secure: false, httpOnly: true, sameSite: "lax", path: "/" },
  };
}

/** express-session's settings for every run (the HTTP server uses the same). */
export function expressSessionOptions(store) {
  return {
    store,
    secret: SECRET,
    name: COOKIE_NAME,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    cookie: { maxAge: TTL_MS, secure: false, httpOnly: true, sameSite: "lax", path: "/" },
  };
}

/** @returns {Promise<EngineSide>} */
export async function sessionkitEngine(store) {
  const { createSessions } = await importDist("index.js");
  const sessions = createSessions(sessionkitOptions(store));
  const loadExisting = async (cookie) => {
    const session = await sessions.load(new Headers({ cookie }));
    if (session.isNew) throw new Error("[bench] sessionkit did not find a seeded session");
    return session;
  };
  return {
    async seed(count) {
      const cookies = [];
      for (let i = 0; i < count; i++) {
        const session = await sessions.load(new Headers());
        for (const [key, value] of Object.entries(sessionPayload(i))) session.set(key, value);
        const headers = await sessions.commit(session);
        cookies.push(cookiePair(headers.get("set-cookie")));
      }
      return cookies;
    },
    async read(cookie) {
      const session = await loadExisting(cookie);
      session.get("user");
      session.get("cart");
      await sessions.commit(session);
    },
    async write(cookie) {
      const session = await loadExisting(cookie);
      session.set("counter", session.get("counter") + 1);
      await sessions.commit(session);
    },
    async visit() {
      const session = await sessions.load(new Headers());
      session.get("user");
      const headers = await sessions.commit(session);
      if (headers.has("set-cookie")) throw new Error("[bench] sessionkit set a cookie for an empty session");
    },
    async counterOf(cookie) {
      return (await loadExisting(cookie)).get("counter");
    },
    close: () => sessions.close(),
  };
}

/** The response fields express-session and on-headers use; `end` reports the Set-Cookie header. */
function fakeResponse(done) {
  const headers = new Map();
  return {
    statusCode: 200,
    _header: null,
    getHeader: (name) => headers.get(name.toLowerCase()),
    setHeader(name, value) {
      headers.set(name.toLowerCase(), value);
      return this;
    },
    writeHead() {
      this._header = "sent";
      return this;
    },
    _implicitHeader() {
      this.writeHead(this.statusCode);
    },
    write: () => true,
    end() {
      // Like Node's ServerResponse: ending writes the head first (on-headers sets the cookie then).
      if (!this._header) this._implicitHeader();
      const setCookie = headers.get("set-cookie");
      done(Array.isArray(setCookie) ? setCookie[0] : setCookie);
      return this;
    },
  };
}

/** @returns {Promise<EngineSide>} */
export async function expressSessionEngine(store) {
  const session = require("express-session");
  const middleware = session(expressSessionOptions(store));
  /** Runs one request through the middleware; `handle` plays the route handler. */
  const request = (cookie, handle) =>
    new Promise((resolve, reject) => {
      const req = { method: "GET", url: "/", originalUrl: "/", headers: cookie ? { cookie } : {}, connection: {}, socket: {} };
      const res = fakeResponse(resolve);
      middleware(req, res, (error) => {
        if (error) return reject(error);
        try {
          handle(req.session);
        } catch (thrown) {
          return reject(thrown);
        }
        res.end("ok");
      });
    });
  const existing = (s) => {
    if (s.user === undefined) throw new Error("[bench] express-session did not find a seeded session");
  };
  return {
    async seed(count) {
      const cookies = [];
      for (let i = 0; i < count; i++) {
        const setCookie = await request(undefined, (s) => Object.assign(s, sessionPayload(i)));
        cookies.push(cookiePair(setCookie));
      }
      return cookies;
    },
    async read(cookie) {
      await request(cookie, (s) => {
        existing(s);
        void s.cart;
      });
    },
    async write(cookie) {
      await request(cookie, (s) => {
        existing(s);
        s.counter += 1;
      });
    },
    async visit() {
      const setCookie = await request(undefined, (s) => void s.user);
      if (setCookie !== undefined) throw new Error("[bench] express-session set a cookie for an empty session");
    },
    async counterOf(cookie) {
      let counter = -1;
      await request(cookie, (s) => {
        existing(s);
        counter = s.counter;
      });
      return counter;
    },
    close: async () => {},
  };
}
