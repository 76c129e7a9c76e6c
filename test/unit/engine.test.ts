import { describe, expect, it } from "vitest";
import type { SessionEvents } from "../../src/index.js";
import {
  createSessions,
  SessionConfigError,
  SessionCookieTooLargeError,
  SessionDataTooLargeError,
  SessionStoreError,
} from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { cookieOf, OLD_SECRET, requestWith, SECRET, setup, T0 } from "../helpers/engine.js";

const MIN = 60_000;
const DAY = 86_400_000;

type Ctx = ReturnType<typeof setup<Record<string, unknown>>>;

/** Creates a stored session holding `data`, returns its cookie. */
async function seeded(ctx: Ctx, data: Record<string, unknown> = { a: 1 }) {
  const s = await ctx.sessions.load(requestWith(null));
  for (const [k, v] of Object.entries(data)) s.set(k, v);
  const cookie = cookieOf(await ctx.sessions.commit(s));
  ctx.spy.reset();
  return { cookie, id: s.id };
}

describe("lazy sessions and strict tokens", () => {
  it("a visitor whose session holds nothing costs no store call, no write and no cookie", async () => {
    const ctx = setup();
    const s = await ctx.sessions.load(requestWith(null));
    expect(s.isNew).toBe(true);
    const headers = await ctx.sessions.commit(s);
    expect(headers.getSetCookie()).toEqual([]);
    expect(ctx.spy.calls).toEqual([]);
  });

  it("loads from a Request, a Headers, or any get(name) reader alike", async () => {
    const ctx = setup();
    const { cookie, id } = await seeded(ctx, { a: 1 });
    const plain: Record<string, string> = { cookie, "user-agent": "test" };
    const reader = { get: (name: string) => plain[name] ?? null };
    for (const source of [new Request("http://x/", { headers: plain }), new Headers(plain), reader]) {
      const s = await ctx.sessions.load(source);
      expect([s.isNew, s.id, s.get("a")]).toEqual([false, id, 1]);
    }
    expect((await ctx.sessions.load({ get: () => null })).isNew).toBe(true);
  });

  it("ip given as a function is read only for a new session or a refused token", async () => {
    const ctx = setup();
    const asked: string[] = [];
    const ip = (label: string) => () => {
      asked.push(label);
      return "203.0.113.7";
    };
    const s = await ctx.sessions.load(requestWith(null), { ip: ip("first visit") });
    s.set("a", 1);
    const cookie = cookieOf(await ctx.sessions.commit(s));
    expect(s.ip).toBe("203.0.113.7");
    const resumed = await ctx.sessions.load(requestWith(cookie), { ip: ip("resumed") });
    expect([resumed.isNew, resumed.ip]).toEqual([false, "203.0.113.7"]);
    const refused: unknown[] = [];
    ctx.sessions.on("invalid-token", (event) => refused.push(event.ip));
    await ctx.sessions.load(requestWith(`${cookie.slice(0, -2)}xx`), { ip: ip("forged") });
    expect(asked).toEqual(["first visit", "forged"]);
    expect(refused).toEqual(["203.0.113.7"]);
  });

  it("a session that holds data is created with version 1 and a cookie", async () => {
    const ctx = setup();
    const s = await ctx.sessions.load(requestWith(null));
    s.set("cart", ["apple"]);
    const headers = await ctx.sessions.commit(s);
    expect(ctx.spy.calls).toEqual(["create"]);
    expect(headers.getSetCookie()[0]).toMatch(
      /^__Host-sid=[0-9a-f]{32}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Max-Age=604800; Path=\/; Expires=.+; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(headers.get("cache-control")).toBe("no-store");
    expect(headers.get("vary")).toBe("Cookie");
    expect(s.isNew).toBe(false);
  });

  it("reading a session costs one store call and writes nothing", async () => {
    const ctx = setup();
    const { cookie } = await seeded(ctx, { cart: ["apple"] });
    const s = await ctx.sessions.load(requestWith(cookie));
    expect(s.get("cart")).toEqual(["apple"]);
    const headers = await ctx.sessions.commit(s);
    expect(ctx.spy.calls).toEqual(["get"]);
    expect(headers.getSetCookie()).toEqual([]);
  });

  it("setting a key to the same value writes nothing; an in-place edit is written", async () => {
    const ctx = setup();
    const { cookie } = await seeded(ctx, { cart: ["apple"] });
    const same = await ctx.sessions.load(requestWith(cookie));
    same.set("cart", ["apple"]);
    await ctx.sessions.commit(same);
    expect(ctx.spy.writes()).toEqual([]);
    const edited = await ctx.sessions.load(requestWith(cookie));
    (edited.get("cart") as string[]).push("pear");
    await ctx.sessions.commit(edited);
    expect(ctx.spy.writes()).toEqual(["update"]);
    expect((await ctx.sessions.load(requestWith(cookie))).get("cart")).toEqual(["apple", "pear"]);
  });

  it("a read-only request does not even serialize the data; handing out an object does", async () => {
    let encodes = 0;
    const counting = {
      encode: (data: Record<string, unknown>) => {
        encodes++;
        return JSON.stringify(data);
      },
      decode: (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown>,
    };
    const ctx = setup({ serializer: counting });
    const { cookie } = await seeded(ctx, { count: 1, cart: ["apple"] });
    encodes = 0;
    const reader = await ctx.sessions.load(requestWith(cookie));
    expect(reader.get("count")).toBe(1);
    await ctx.sessions.commit(reader);
    expect(encodes).toBe(0);
    const editor = await ctx.sessions.load(requestWith(cookie));
    (editor.get("cart") as string[]).push("pear");
    await ctx.sessions.commit(editor);
    expect(encodes).toBe(1);
    expect(ctx.spy.writes()).toEqual(["update"]);
  });

  it("an unknown token (never issued) is not adopted: a new token, nothing written", async () => {
    const ctx = setup();
    const { cookie } = await seeded(ctx);
    await ctx.sessions.revoke((await ctx.sessions.load(requestWith(cookie))).id);
    ctx.spy.reset();
    const s = await ctx.sessions.load(requestWith(cookie));
    expect(s.isNew).toBe(true);
    await ctx.sessions.commit(s);
    expect(ctx.spy.writes()).toEqual([]);
    s.set("x", 1);
    const again = cookieOf(await ctx.sessions.commit(s));
    expect(again).not.toBe(cookie);
  });
});

describe("bad cookies: a fresh session, no exception, no store access", () => {
  const ctx = setup();
  const forged = `__Host-sid=${"A".repeat(43)}.${"B".repeat(43)}`;
  const cases: Record<string, string> = {
    empty: "__Host-sid=",
    garbled: "__Host-sid=%%%not-a-token%%%",
    "no dot": `__Host-sid=${"A".repeat(87)}`,
    truncated: `__Host-sid=${"A".repeat(43)}.${"B".repeat(20)}`,
    oversized: `__Host-sid=${"A".repeat(20_000)}`,
    forged,
    "too many parts": `__Host-sid=a.b.c.d`,
    unicode: "__Host-sid=tökén.sïg",
    "only other cookies": "theme=dark; lang=en",
    "header garbage": ";;;===;,,, =; __Host-sid; __Host-sid==",
  };
  for (const [name, cookie] of Object.entries(cases)) {
    it(name, async () => {
      ctx.spy.reset();
      const s = await ctx.sessions.load(requestWith(cookie));
      expect(s.isNew).toBe(true);
      expect(s.keys()).toEqual([]);
      expect(ctx.spy.calls).toEqual([]);
      const headers = await ctx.sessions.commit(s);
      expect(headers.getSetCookie()).toEqual([]);
      expect(ctx.spy.calls).toEqual([]);
    });
  }

  it("a cookie signed by a retired secret is rejected before the store", async () => {
    const old = setup({ secrets: [OLD_SECRET] });
    const { cookie } = await seeded(old);
    const retired = setup({ store: old.spy.store, secrets: [SECRET] });
    const events: string[] = [];
    retired.sessions.on("invalid-token", (e) => events.push(e.reason));
    old.spy.reset();
    const s = await retired.sessions.load(requestWith(cookie));
    expect(s.isNew).toBe(true);
    expect(old.spy.calls).toEqual([]);
    expect(events).toEqual(["bad-signature"]);
  });
});

describe("timeouts, touch and cookie refresh", () => {
  it("idle timeout: a session unused for idleTimeout is gone", async () => {
    const ctx = setup({ idleTimeout: "30m", absoluteTimeout: null });
    const { cookie } = await seeded(ctx);
    ctx.clock.now += 30 * MIN;
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("activity slides the idle timeout, via touches that write timestamps only", async () => {
    const ctx = setup({ idleTimeout: "30m", absoluteTimeout: null, touchInterval: "1m" });
    const { cookie, id } = await seeded(ctx);
    for (let i = 0; i < 5; i++) {
      ctx.clock.now += 20 * MIN;
      ctx.spy.reset();
      const s = await ctx.sessions.load(requestWith(cookie));
      expect(s.isNew).toBe(false);
      const headers = await ctx.sessions.commit(s);
      expect(ctx.spy.writes()).toEqual(["touch"]);
      expect(headers.getSetCookie()[0]).toContain("Max-Age=1800");
    }
    const stored = await ctx.spy.store.get(id, ctx.clock.now);
    expect(stored?.version).toBe(1); // touches never bump the data version
    expect(stored?.lastActiveAt).toBe(ctx.clock.now);
  });

  it("no touch before touchInterval has passed", async () => {
    const ctx = setup({ touchInterval: "5m" });
    const { cookie } = await seeded(ctx);
    ctx.clock.now += 4 * MIN;
    const s = await ctx.sessions.load(requestWith(cookie));
    expect((await ctx.sessions.commit(s)).getSetCookie()).toEqual([]);
    expect(ctx.spy.writes()).toEqual([]);
  });

  it("absolute timeout ends a session however active it is", async () => {
    const ctx = setup({ idleTimeout: "1d", absoluteTimeout: "3d" });
    const { cookie } = await seeded(ctx);
    for (let halfDays = 1; halfDays < 6; halfDays++) {
      ctx.clock.now = T0 + (halfDays * DAY) / 2;
      const s = await ctx.sessions.load(requestWith(cookie));
      expect(s.isNew).toBe(false);
      await ctx.sessions.commit(s);
    }
    ctx.clock.now = T0 + 3 * DAY;
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("the cookie's Max-Age never outlives the absolute timeout", async () => {
    const ctx = setup({ idleTimeout: "7d", absoluteTimeout: "10d" });
    const { cookie } = await seeded(ctx);
    ctx.clock.now = T0 + 4 * DAY;
    await ctx.sessions.commit(await ctx.sessions.load(requestWith(cookie)));
    ctx.clock.now = T0 + 8 * DAY;
    const headers = await ctx.sessions.commit(await ctx.sessions.load(requestWith(cookie)));
    expect(headers.getSetCookie()[0]).toContain(`Max-Age=${2 * 86_400}`);
  });

  it("shortening a timeout in config applies to existing sessions at once", async () => {
    const store = memoryStore();
    const long = setup({ store, idleTimeout: "7d" });
    const { cookie } = await seeded(long);
    const short = setup({ store, idleTimeout: "1h" });
    short.clock.now = T0 + 2 * 3_600_000;
    const expired: Array<SessionEvents["expired"]> = [];
    short.sessions.on("expired", (e) => expired.push(e));
    expect((await short.sessions.load(requestWith(cookie))).isNew).toBe(true);
    expect(expired).toHaveLength(1);
  });

  it("no timeouts: a browser-session cookie and no expiry", async () => {
    const ctx = setup({ idleTimeout: null, absoluteTimeout: null });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    const line = (await ctx.sessions.commit(s)).getSetCookie()[0] as string;
    expect(line).not.toMatch(/Max-Age|Expires/);
    expect(s.expiresAt).toBeNull();
  });
});

describe("login, rotate, destroy", () => {
  it("login rotates the token, keeps the data, binds the user and records authenticatedAt", async () => {
    const ctx = setup();
    const { cookie, id } = await seeded(ctx, { cart: ["apple"] });
    const rotated: Array<SessionEvents["rotated"]> = [];
    ctx.sessions.on("rotated", (e) => rotated.push(e));
    const s = await ctx.sessions.load(requestWith(cookie));
    ctx.clock.now += 1000;
    await s.login("user-1");
    const newCookie = cookieOf(await ctx.sessions.commit(s));
    expect(newCookie).not.toBe(cookie);
    expect(s.id).toBe(id); // the row and its public id stay; only the secret changed
    expect(newCookie.split(".")[0]).toBe(cookie.split(".")[0]);
    expect(rotated).toEqual([{ id, userId: "user-1", reason: "login" }]);
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true); // old token dead
    const after = await ctx.sessions.load(requestWith(newCookie));
    expect(after.userId).toBe("user-1");
    expect(after.get("cart")).toEqual(["apple"]);
    expect(after.authenticatedAt?.getTime()).toBe(T0 + 1000);
  });

  it("login refuses an empty or over-long user id", async () => {
    const ctx = setup();
    const s = await ctx.sessions.load(requestWith(null));
    await expect(s.login("")).rejects.toThrow(/1 to 255/);
    await expect(s.login("u".repeat(256))).rejects.toThrow(/1 to 255/);
    await expect(s.login("u".repeat(255))).resolves.toBeUndefined();
  });

  it("login on a brand-new session creates it already bound", async () => {
    const ctx = setup();
    const s = await ctx.sessions.load(requestWith(null));
    await s.login("u");
    const cookie = cookieOf(await ctx.sessions.commit(s));
    expect((await ctx.sessions.load(requestWith(cookie))).userId).toBe("u");
  });

  it("rotate gives a new token for the same data", async () => {
    const ctx = setup();
    const { cookie } = await seeded(ctx, { a: 1 });
    const s = await ctx.sessions.load(requestWith(cookie));
    s.rotate();
    const next = cookieOf(await ctx.sessions.commit(s));
    expect(next).not.toBe(cookie);
    expect((await ctx.sessions.load(requestWith(next))).get("a")).toBe(1);
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("destroy deletes the row and clears the cookie", async () => {
    const ctx = setup();
    const { cookie, id } = await seeded(ctx);
    const destroyed: string[] = [];
    ctx.sessions.on("destroyed", (e) => destroyed.push(e.id));
    const s = await ctx.sessions.load(requestWith(cookie));
    s.destroy();
    const headers = await ctx.sessions.commit(s);
    expect(headers.getSetCookie()[0]).toMatch(/^__Host-sid=; Max-Age=0;.*Expires=Thu, 01 Jan 1970/);
    expect(headers.get("cache-control")).toBe("no-store");
    expect(destroyed).toEqual([id]);
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
    expect(() => s.set("x" as never, 1 as never)).not.toThrow(); // the session continues as a new one
  });

  it("a destroyed session refuses new data until committed", async () => {
    const ctx = setup();
    const s = await ctx.sessions.load(requestWith(null));
    s.destroy();
    expect(() => s.set("a", 1)).toThrow(/destroyed/);
  });
});

describe("concurrency and the resurrection guard", () => {
  it("same key: the last write wins", async () => {
    const ctx = setup();
    const { cookie } = await seeded(ctx, { color: "red" });
    const a = await ctx.sessions.load(requestWith(cookie));
    const b = await ctx.sessions.load(requestWith(cookie));
    a.set("color", "green");
    b.set("color", "blue");
    await ctx.sessions.commit(a);
    await ctx.sessions.commit(b);
    expect((await ctx.sessions.load(requestWith(cookie))).get("color")).toBe("blue");
  });

  it("a delete in one request and a set of another key in the other both survive", async () => {
    const ctx = setup();
    const { cookie } = await seeded(ctx, { a: 1, b: 2 });
    const x = await ctx.sessions.load(requestWith(cookie));
    const y = await ctx.sessions.load(requestWith(cookie));
    x.delete("a");
    y.set("c", 3);
    await ctx.sessions.commit(x);
    await ctx.sessions.commit(y);
    expect((await ctx.sessions.load(requestWith(cookie))).toJSON()).toEqual({ b: 2, c: 3 });
  });

  it("a late commit after another request's login is dropped without touching the cookie", async () => {
    const ctx = setup();
    const { cookie, id } = await seeded(ctx, { a: 1 });
    const interrupted: Array<SessionEvents["interrupted"]> = [];
    ctx.sessions.on("interrupted", (e) => interrupted.push(e));
    const loginRequest = await ctx.sessions.load(requestWith(cookie));
    const late = await ctx.sessions.load(requestWith(cookie));
    await loginRequest.login("u");
    const fresh = cookieOf(await ctx.sessions.commit(loginRequest));
    late.set("b", 2);
    const headers = await ctx.sessions.commit(late);
    expect(late.interrupted).toBe(true);
    expect(interrupted).toEqual([{ id, userId: null, reason: "superseded" }]);
    expect(headers.getSetCookie()).toEqual([]); // the browser keeps the login cookie
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
    const after = await ctx.sessions.load(requestWith(fresh));
    expect(after.userId).toBe("u");
    expect(after.get("b")).toBeUndefined();
  });

  it("a late commit after another request's rotate() is merged and sends no cookie", async () => {
    const ctx = setup();
    const { cookie } = await seeded(ctx, { a: 1 });
    const rotating = await ctx.sessions.load(requestWith(cookie));
    const late = await ctx.sessions.load(requestWith(cookie));
    rotating.rotate();
    const fresh = cookieOf(await ctx.sessions.commit(rotating));
    late.set("b", 2);
    const headers = await ctx.sessions.commit(late);
    expect(late.interrupted).toBe(false);
    expect(headers.getSetCookie()).toEqual([]);
    const after = await ctx.sessions.load(requestWith(fresh));
    expect(after.toJSON()).toEqual({ a: 1, b: 2 });
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("a read racing a login never clears or replaces the login cookie", async () => {
    const ctx = setup({ touchInterval: 0 });
    const { cookie } = await seeded(ctx, { a: 1 });
    const reader = await ctx.sessions.load(requestWith(cookie));
    const loginRequest = await ctx.sessions.load(requestWith(cookie));
    await loginRequest.login("u");
    const fresh = cookieOf(await ctx.sessions.commit(loginRequest));
    ctx.clock.now += 1000; // the reader's touch is due
    const headers = await ctx.sessions.commit(reader);
    expect(headers.getSetCookie()).toEqual([]);
    expect(reader.interrupted).toBe(false);
    expect((await ctx.sessions.load(requestWith(fresh))).userId).toBe("u");
  });

  it("a late touch of a destroyed session does not bring it back", async () => {
    const ctx = setup({ touchInterval: 0 });
    const { cookie } = await seeded(ctx);
    const a = await ctx.sessions.load(requestWith(cookie));
    const b = await ctx.sessions.load(requestWith(cookie));
    a.destroy();
    await ctx.sessions.commit(a);
    ctx.clock.now += 1000;
    await ctx.sessions.commit(b);
    expect(b.interrupted).toBe(true);
    expect((await ctx.sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("two concurrent logins of one session: the last one wins, one row, one live token", async () => {
    const ctx = setup();
    const { cookie } = await seeded(ctx);
    const a = await ctx.sessions.load(requestWith(cookie));
    const b = await ctx.sessions.load(requestWith(cookie));
    await a.login("u");
    await b.login("v");
    const [ha, hb] = await Promise.all([ctx.sessions.commit(a), ctx.sessions.commit(b)]);
    expect([a.interrupted, b.interrupted]).toEqual([false, false]);
    expect(await ctx.sessions.list("u")).toHaveLength(0);
    expect(await ctx.sessions.list("v")).toHaveLength(1);
    expect((await ctx.sessions.load(requestWith(cookieOf(ha)))).isNew).toBe(true);
    expect((await ctx.sessions.load(requestWith(cookieOf(hb)))).userId).toBe("v");
  });
});

describe("limits", () => {
  it("oversized data throws SessionDataTooLargeError and writes nothing", async () => {
    const ctx = setup({ maxDataBytes: 1024 });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("blob", "x".repeat(2000));
    await expect(ctx.sessions.commit(s)).rejects.toBeInstanceOf(SessionDataTooLargeError);
    expect(ctx.spy.writes()).toEqual([]);
  });

  it("a Set-Cookie over 4096 bytes throws SessionCookieTooLargeError and writes nothing", async () => {
    const ctx = setup<{ big: string }>({ cookieKeys: ["big"] });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("big", "y".repeat(4000));
    await expect(ctx.sessions.commit(s)).rejects.toBeInstanceOf(SessionCookieTooLargeError);
    expect(ctx.spy.writes()).toEqual([]);
  });

  it("maxSessionsPerUser revokes the least recently active sessions at login", async () => {
    const ctx = setup({ maxSessionsPerUser: 2 });
    const revoked: Array<SessionEvents["revoked"]> = [];
    ctx.sessions.on("revoked", (e) => revoked.push(e));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ctx.clock.now += 1000;
      const s = await ctx.sessions.load(requestWith(null));
      await s.login("u");
      await ctx.sessions.commit(s);
      ids.push(s.id);
    }
    const left = (await ctx.sessions.list("u")).map((s) => s.id);
    expect(left.sort()).toEqual([ids[1], ids[2]].sort());
    expect(revoked).toEqual([{ id: ids[0], userId: "u", reason: "limit" }]);
  });
});

describe("store failures", () => {
  const failing = () => {
    const store = memoryStore();
    let broken = false;
    const boom = new Error("connection refused");
    const wrapped = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== "function" || prop === "close") return value;
        return (...args: unknown[]) =>
          broken ? Promise.reject(boom) : (value as (...a: unknown[]) => unknown).apply(target, args);
      },
    });
    return { store: wrapped, boom, break: () => (broken = true), fix: () => (broken = false) };
  };

  it("load rejects with SessionStoreError keeping the cause; no fresh session is committed", async () => {
    const f = failing();
    const ctx = setup({ store: f.store });
    const { cookie } = await seeded(ctx);
    f.break();
    const error = await ctx.sessions.load(requestWith(cookie)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionStoreError);
    expect((error as SessionStoreError).cause).toBe(f.boom);
    expect((error as Error).message).toMatch(/^\[sessionkit\] \[memory\] get failed: connection refused/);
    expect((error as Error).message).not.toContain(cookie.split("=")[1]?.split(".")[1]);
    f.fix();
    expect((await ctx.sessions.load(requestWith(cookie))).get("a")).toBe(1);
  });

  it("commit rejects with SessionStoreError", async () => {
    const f = failing();
    const ctx = setup({ store: f.store });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("a", 1);
    f.break();
    await expect(ctx.sessions.commit(s)).rejects.toBeInstanceOf(SessionStoreError);
  });

  it("a row that no longer decrypts gives a fresh session and an event, and stays for recovery", async () => {
    const old = setup({ secrets: [OLD_SECRET] });
    const { cookie, id } = await seeded(old);
    // Same signing secret ring but the data key is gone: simulate by corrupting the row.
    const row = await old.spy.store.get(id, T0);
    if (!row) throw new Error("row missing");
    row.data[row.data.length - 1] = (row.data[row.data.length - 1] as number) ^ 0xff;
    await old.spy.store.update({ ...row, version: 2 }, 1);
    const events: Array<SessionEvents["invalid-token"]> = [];
    old.sessions.on("invalid-token", (e) => events.push(e));
    const s = await old.sessions.load(requestWith(cookie));
    expect(s.isNew).toBe(true);
    expect(events.map((e) => e.reason)).toEqual(["undecodable"]);
    expect(await old.spy.store.get(id, T0)).not.toBeNull();
  });
});

describe("secret rotation", () => {
  it("old sessions still read after a new secret is put in front, and are re-encrypted on the next write", async () => {
    const store = memoryStore();
    const before = setup({ store, secrets: [OLD_SECRET] });
    const { cookie, id } = await seeded(before, { a: 1 });
    const keyIdOf = async () => Buffer.from((await store.get(id, T0))?.data ?? []).readUInt32BE(1);
    const oldKeyId = await keyIdOf();
    const after = setup({ store, secrets: [SECRET, OLD_SECRET] });
    const s = await after.sessions.load(requestWith(cookie));
    expect(s.get("a")).toBe(1);
    s.set("b", 2);
    await after.sessions.commit(s);
    expect(await keyIdOf()).not.toBe(oldKeyId);
    const retired = setup({ store, secrets: [SECRET] });
    // The cookie is still signed by the old secret, so it dies with it: that is the point of retiring.
    expect((await retired.sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("a touch of a session under an old key re-encrypts it under the current one", async () => {
    const store = memoryStore();
    const before = setup({ store, secrets: [OLD_SECRET] });
    const { cookie, id } = await seeded(before, { a: 1 });
    const after = setup({ store, secrets: [SECRET, OLD_SECRET] });
    after.clock.now += 2 * MIN;
    await after.sessions.commit(await after.sessions.load(requestWith(cookie)));
    expect(after.spy.writes()).toEqual(["update"]);
    expect((await store.get(id, after.clock.now))?.version).toBe(2);
  });
});

describe("cookieKeys and peek", () => {
  it("peek reads the listed keys from the cookie alone", async () => {
    const ctx = setup<{ name: string; secret: string }>({ cookieKeys: ["name"] });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("name", "Ada");
    s.set("secret", "not in the cookie");
    const cookie = cookieOf(await ctx.sessions.commit(s));
    ctx.spy.reset();
    expect(ctx.sessions.peek(requestWith(cookie))).toEqual({ name: "Ada" });
    expect(ctx.spy.calls).toEqual([]);
    expect(cookie).not.toContain("Ada");
    expect(ctx.sessions.peek(requestWith(null))).toBeNull();
    expect(ctx.sessions.peek(requestWith(`${cookie.slice(0, -3)}abc`))).toEqual({});
  });

  it("a change to a cookie key re-sends the cookie", async () => {
    const ctx = setup<{ name: string; other: number }>({ cookieKeys: ["name"] });
    const s = await ctx.sessions.load(requestWith(null));
    s.set("name", "Ada");
    const cookie = cookieOf(await ctx.sessions.commit(s));
    const t = await ctx.sessions.load(requestWith(cookie));
    t.set("other", 1);
    expect((await ctx.sessions.commit(t)).getSetCookie()).toEqual([]);
    const u = await ctx.sessions.load(requestWith(cookie));
    u.set("name", "Grace");
    const next = cookieOf(await ctx.sessions.commit(u));
    expect(ctx.sessions.peek(requestWith(next))).toEqual({ name: "Grace" });
  });
});

describe("csrf", () => {
  it("a per-session token, checked without a store read, changing at login", async () => {
    const ctx = setup();
    const s = await ctx.sessions.load(requestWith(null));
    const token = s.csrfToken();
    expect(s.csrfToken()).toBe(token);
    const cookie = cookieOf(await ctx.sessions.commit(s)); // asking for a token keeps the session
    ctx.spy.reset();
    expect(ctx.sessions.verifyCsrf(requestWith(cookie), token)).toBe(true);
    expect(ctx.sessions.verifyCsrf(requestWith(cookie), `${token}x`)).toBe(false);
    expect(ctx.sessions.verifyCsrf(requestWith(cookie), undefined)).toBe(false);
    expect(ctx.sessions.verifyCsrf(requestWith(null), token)).toBe(false);
    expect(ctx.spy.calls).toEqual([]);
    const loaded = await ctx.sessions.load(requestWith(cookie));
    expect(loaded.verifyCsrf(token)).toBe(true);
    await loaded.login("u");
    expect(loaded.verifyCsrf(token)).toBe(false);
  });
});

describe("management", () => {
  it("list marks the current session, sorted by last activity; revokeUser keeps `except`", async () => {
    const ctx = setup();
    const made = [];
    for (let i = 0; i < 3; i++) {
      ctx.clock.now += 1000;
      const s = await ctx.sessions.load(requestWith(null, { "user-agent": `agent-${i}` }), { ip: `10.0.0.${i}` });
      await s.login("alice");
      await ctx.sessions.commit(s);
      made.push(s);
    }
    const current = made[1];
    if (!current) throw new Error("unreachable");
    const list = await ctx.sessions.list("alice", { current });
    expect(list.map((s) => s.userAgent)).toEqual(["agent-2", "agent-1", "agent-0"]);
    expect(list.map((s) => s.current)).toEqual([false, true, false]);
    expect(list[0]?.ip).toBe("10.0.0.2");
    expect(await ctx.sessions.revokeUser("alice", { except: current })).toBe(2);
    expect((await ctx.sessions.list("alice")).map((s) => s.id)).toEqual([current.id]);
    expect(await ctx.sessions.revoke(current.id)).toBe(true);
    expect(await ctx.sessions.revoke(current.id)).toBe(false);
    expect(await ctx.sessions.revoke("not an id")).toBe(false);
  });

  it("prune deletes expired sessions in batches and reports the count", async () => {
    const ctx = setup({ idleTimeout: "1h", absoluteTimeout: null, pruneBatchSize: 3 });
    for (let i = 0; i < 7; i++) await seeded(ctx);
    ctx.clock.now += 2 * 3_600_000;
    await seeded(ctx); // live
    const counts: number[] = [];
    ctx.sessions.on("expired", (e) => e.count !== undefined && counts.push(e.count));
    ctx.spy.reset();
    expect(await ctx.sessions.prune()).toBe(7);
    // 3 + 3 + 1, then a call that finds nothing left
    expect(ctx.spy.calls).toEqual(["pruneExpired", "pruneExpired", "pruneExpired", "pruneExpired"]);
    expect(counts).toEqual([7]);
    expect((await ctx.sessions.stats()).total).toBe(1);
  });
});

describe("events never carry a token", () => {
  it("across create, rotate, destroy, revoke, invalid-token and interrupted", async () => {
    const ctx = setup();
    const seen: unknown[] = [];
    for (const name of ["created", "rotated", "destroyed", "revoked", "expired", "interrupted", "invalid-token"] as const) {
      ctx.sessions.on(name, (e) => seen.push(e));
    }
    const { cookie } = await seeded(ctx);
    // The id (first segment) is the public handle events carry; the secret and signature are not.
    const [, secret, signature] = (cookie.split("=")[1] as string).split(".") as [string, string, string];
    const a = await ctx.sessions.load(requestWith(cookie));
    const b = await ctx.sessions.load(requestWith(cookie));
    await a.login("u");
    await ctx.sessions.commit(a);
    b.set("z", 1);
    await ctx.sessions.commit(b);
    await ctx.sessions.load(requestWith(cookie)); // now unknown
    await ctx.sessions.load(requestWith(`${cookie}x`)); // garbled
    await ctx.sessions.revokeUser("u");
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(JSON.stringify(seen)).not.toContain(secret);
    expect(JSON.stringify(seen)).not.toContain(signature);
  });

  it("a listener that throws does not break the request", async () => {
    const ctx = setup();
    ctx.sessions.on("created", () => {
      throw new Error("listener bug");
    });
    const spy = { n: 0 };
    const original = console.error;
    console.error = () => void spy.n++;
    try {
      const s = await ctx.sessions.load(requestWith(null));
      s.set("a", 1);
      await expect(ctx.sessions.commit(s)).resolves.toBeInstanceOf(Headers);
    } finally {
      console.error = original;
    }
    expect(spy.n).toBe(1);
  });
});

describe("configuration errors are clear", () => {
  const store = memoryStore();
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["no store", { secrets: [SECRET] }, /store is required/],
    ["short secret", { store, secrets: ["x"] }, /at least 32/],
    ["bad duration", { store, secrets: [SECRET], idleTimeout: "soon" }, /idleTimeout must be/],
    ["bad transport", { store, secrets: [SECRET], transport: "carrier-pigeon" }, /transport must be/],
    ["samesite none without secure", { store, secrets: [SECRET], cookie: { sameSite: "none", secure: false } }, /needs secure/],
    ["bad maxDataBytes", { store, secrets: [SECRET], maxDataBytes: -1 }, /maxDataBytes/],
    ["bad serializer", { store, secrets: [SECRET], serializer: "xml" }, /serializer must be/],
    ["zero prune interval", { store, secrets: [SECRET], pruneInterval: 0 }, /pruneInterval must be longer than 0/],
    ["cookie path with ;", { store, secrets: [SECRET], cookie: { path: "/; Domain=evil.example" } }, /cookie.path/],
    ["cookie path with CR LF", { store, secrets: [SECRET], cookie: { path: "/\r\nSet-Cookie: x=1" } }, /cookie.path/],
    ["cookie path not absolute", { store, secrets: [SECRET], cookie: { path: "app" } }, /must start with/],
    ["cookie domain with ;", { store, secrets: [SECRET], cookie: { domain: "example.com; Secure" } }, /cookie.domain/],
    ["cookie domain with LF", { store, secrets: [SECRET], cookie: { domain: "example.com\nX: 1" } }, /cookie.domain/],
    ["maxRetries (replaced)", { store, secrets: [SECRET], maxRetries: 8 }, /replaced by retryBudget/],
    ["bad retryBudget", { store, secrets: [SECRET], retryBudget: "forever" }, /retryBudget must be/],
  ];
  for (const [name, options, message] of cases) {
    it(name, () => {
      expect(() => createSessions(options as never)).toThrow(SessionConfigError);
      expect(() => createSessions(options as never)).toThrow(message);
    });
  }

  it("does not change the caller's options object", () => {
    const options = Object.freeze({ store, secrets: Object.freeze([SECRET]), cookie: Object.freeze({ name: "app" }) });
    const sessions = createSessions(options);
    expect(sessions.config.transports[0]).toMatchObject({ kind: "cookie", cookie: { name: "__Host-app" } });
    expect(Object.isFrozen(sessions.config)).toBe(true);
  });
});
