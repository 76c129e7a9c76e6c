// The near-cache (createSessions({ cache })) on the memory store and its in-process channel,
// and on a controllable channel that can drop. Correctness only: no timings.
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Duration, InvalidationChannel, InvalidationListener, SessionStore, Sessions } from "../../src/index.js";
import { createSessions, SessionConfigError, updateMessage } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { sqlitePruneMode } from "../../src/stores/sqlite/store.js";
import { sqliteStore } from "../../src/stores/sqlite.js";
import { cookieOf, requestWith, SECRET, spyStore, T0 } from "../helpers/engine.js";

const CART = [{ sku: "A", qty: 1 }];

/** A channel the test drives: deliver later, drop, come back. */
function testChannel(options: { synchronous?: boolean } = {}) {
  const listeners = new Set<InvalidationListener>();
  let up = true;
  const deliver = (ids: readonly string[] | "all") => {
    for (const l of listeners) ids === "all" ? l.invalidateAll() : l.invalidate(ids);
  };
  const channel: InvalidationChannel & {
    drop(): void;
    restore(): void;
    published: Array<readonly string[] | "all">;
    listeners: Set<InvalidationListener>;
  } = {
    synchronous: options.synchronous ?? true,
    published: [],
    listeners,
    subscribe(listener) {
      listeners.add(listener);
      if (up) listener.state(true);
      return async () => {
        listeners.delete(listener);
      };
    },
    async publish(ids) {
      channel.published.push(ids);
      if (!up) return; // lost: a subscriber that is down never hears it
      if (channel.synchronous) deliver(ids);
      else process.nextTick(() => deliver(ids)); // already in the socket, not yet read
    },
    drop() {
      up = false;
      for (const l of listeners) l.state(false);
    },
    restore() {
      up = true;
      for (const l of listeners) l.state(true);
    },
  };
  return channel;
}

const channelListeners = (channel: ReturnType<typeof testChannel>) => [...channel.listeners];

function withChannel(store: SessionStore, channel: InvalidationChannel): SessionStore {
  return Object.create(store, { invalidation: { value: channel } }) as SessionStore;
}

/** Two engines ("processes") on one store, each with its own cache, and a movable clock. */
function pair(options: { store?: SessionStore; ttl?: Duration; touchInterval?: Duration } = {}) {
  const clock = { now: T0 };
  const spy = spyStore(options.store ?? memoryStore());
  const make = () =>
    createSessions({
      store: spy.store,
      secrets: [SECRET],
      clock: () => clock.now,
      cache: { maxEntries: 100, ttl: options.ttl ?? "10s" },
      ...(options.touchInterval ? { touchInterval: options.touchInterval } : {}),
    });
  return { a: make(), b: make(), clock, spy };
}

async function signIn(sessions: Sessions, userId = "u1") {
  const s = await sessions.load(requestWith(null));
  s.set("cart", structuredClone(CART));
  await s.login(userId);
  return cookieOf(await sessions.commit(s));
}

describe("near-cache", () => {
  it("serves a read-only request of a cached session with no store call", async () => {
    const { a, spy } = pair();
    const cookie = await signIn(a);
    await a.commit(await a.load(requestWith(cookie))); // first read: from the store, then cached
    spy.reset();
    const s = await a.load(requestWith(cookie));
    expect(s.isNew).toBe(false);
    expect(s.userId).toBe("u1");
    expect(s.get("cart")).toEqual(CART);
    expect((await a.commit(s)).get("set-cookie")).toBeNull();
    expect(spy.calls).toEqual([]);
  });

  it("hands every request its own copy: in-place edits never leak into the cache or other requests", async () => {
    const { a } = pair();
    const cookie = await signIn(a);
    await a.load(requestWith(cookie));
    const first = await a.load(requestWith(cookie));
    (first.get("cart") as Array<{ qty: number }>)[0]!.qty = 99;
    (first.get("cart") as unknown[]).push({ sku: "B" });
    const second = await a.load(requestWith(cookie));
    expect(second.get("cart")).toEqual(CART);
    await a.commit(first); // the in-place edit is a real change: written, cache invalidated
    const third = await a.load(requestWith(cookie));
    expect(third.get("cart")).toEqual([{ sku: "A", qty: 99 }, { sku: "B" }]);
  });

  it("finds a cached session unchanged without serializing it, and every real change in place", async () => {
    const { a, spy } = pair();
    const cookie = await signIn(a);
    await a.commit(await a.load(requestWith(cookie)));
    const read = async (edit: (s: Awaited<ReturnType<typeof a.load>>) => void) => {
      const s = await a.load(requestWith(cookie));
      edit(s);
      spy.reset();
      await a.commit(s);
      return spy.writes();
    };
    // Objects handed out and read only, or a key deleted and put back: nothing to write.
    expect(await read((s) => void JSON.stringify(s.get("cart")))).toEqual([]);
    expect(
      await read((s) => {
        const cart = s.get("cart");
        s.delete("cart");
        s.set("cart", cart);
      }),
    ).toEqual([]);
    // Every in-place change is one: nested number, new key, removed key, a Date where a string was.
    const line = (s: Awaited<ReturnType<typeof a.load>>) => (s.get("cart") as Array<Record<string, unknown>>)[0]!;
    expect(
      await read((s) => {
        line(s).qty = 2;
      }),
    ).toEqual(["update"]);
    expect(
      await read((s) => {
        line(s).note = "x";
      }),
    ).toEqual(["update"]);
    expect(await read((s) => void delete line(s).note)).toEqual(["update"]);
    expect(
      await read((s) => {
        (s.get("cart") as unknown[]).length = 0;
      }),
    ).toEqual(["update"]);
    expect(await read((s) => void s.set("when", new Date(0)))).toEqual(["update"]);
    // ...and a Date put back as its JSON string is the same stored bytes: no write.
    expect(await read((s) => void s.set("when", new Date(0).toISOString()))).toEqual([]);
    expect((await a.load(requestWith(cookie))).get("cart")).toEqual([]);
  });

  it("still checks the secret: another secret for a cached id is refused (and costs a store read)", async () => {
    const { a, spy } = pair();
    const cookie = await signIn(a);
    await a.load(requestWith(cookie));
    const [name, value] = cookie.split("=") as [string, string];
    const [id, secret, sig] = value.split(".") as [string, string, string];
    const flipped = `${secret.slice(0, 10)}${secret[10] === "A" ? "B" : "A"}${secret.slice(11)}`;
    spy.reset();
    const forged = await a.load(requestWith(`${name}=${id}.${flipped}.${sig}`));
    expect(forged.isNew).toBe(true);
    // A valid signature with a wrong secret cannot be made without the key: the forgery dies
    // at the signature, before the store; either way the cache did not answer it.
    expect(spy.calls).toEqual([]);
    expect((await a.load(requestWith(cookie))).isNew).toBe(false);
  });

  it("still checks expiry: an expired cached session is a new one", async () => {
    const clock = { now: T0 };
    const sessions = createSessions({
      store: memoryStore(),
      secrets: [SECRET],
      clock: () => clock.now,
      idleTimeout: "1m",
      cache: { ttl: "1h" },
    });
    const cookie = await signIn(sessions);
    await sessions.load(requestWith(cookie));
    clock.now += 61_000;
    expect((await sessions.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("a revoke through one instance is refused by the other on its very next request", async () => {
    const { a, b } = pair();
    const cookie = await signIn(a);
    const s = await b.load(requestWith(cookie));
    await b.load(requestWith(cookie)); // cached in b
    expect(await a.revoke(s.id)).toBe(true);
    expect((await b.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("writes, rotations, destroy, revokeUser and prune through one instance reach the other's cache", async () => {
    const { a, b, clock } = pair();
    let cookie = await signIn(a);
    await b.load(requestWith(cookie));

    const w = await a.load(requestWith(cookie));
    w.set("cart", []);
    await a.commit(w);
    expect((await b.load(requestWith(cookie))).get("cart")).toEqual([]);

    const r = await a.load(requestWith(cookie));
    r.rotate();
    const rotated = cookieOf(await a.commit(r));
    expect((await b.load(requestWith(cookie))).isNew).toBe(true);
    expect((await b.load(requestWith(rotated))).isNew).toBe(false);
    cookie = rotated;

    const d = await a.load(requestWith(cookie));
    d.destroy();
    await a.commit(d);
    expect((await b.load(requestWith(cookie))).isNew).toBe(true);

    const c2 = await signIn(a, "u2");
    await b.load(requestWith(c2));
    expect(await a.revokeUser("u2")).toBe(1);
    expect((await b.load(requestWith(c2))).isNew).toBe(true);

    const c3 = await signIn(a, "u3");
    await b.load(requestWith(c3));
    const gone = await signIn(a, "u4");
    await b.load(requestWith(gone));
    clock.now += 8 * 86_400_000; // both past the 7-day idle timeout
    expect(await a.prune()).toBe(2);
    expect((await b.load(requestWith(c3))).isNew).toBe(true);
  });

  it("a lost channel empties the cache and bypasses it until it is back; what it missed never shows", async () => {
    const channel = testChannel();
    const { a, b, spy } = pair({ store: withChannel(memoryStore(), channel) });
    const cookie = await signIn(a);
    const id = (await b.load(requestWith(cookie))).id;
    await b.load(requestWith(cookie));
    channel.drop();
    spy.reset();
    expect((await b.load(requestWith(cookie))).isNew).toBe(false);
    expect(spy.calls).toEqual(["get"]); // bypassed: read from the store
    await a.revoke(id); // its message is lost
    expect((await b.load(requestWith(cookie))).isNew).toBe(true);
    channel.restore();
    expect((await b.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("while the channel is down nothing is cached, and the cache starts empty when it comes back", async () => {
    const channel = testChannel();
    const { a, b, spy } = pair({ store: withChannel(memoryStore(), channel) });
    const cookie = await signIn(a);
    channel.drop();
    await b.load(requestWith(cookie));
    await b.load(requestWith(cookie));
    channel.restore();
    spy.reset();
    await b.load(requestWith(cookie));
    expect(spy.calls).toEqual(["get"]);
  });

  it("entries are read again after ttl", async () => {
    const { a, clock, spy } = pair({ ttl: "5s" });
    const cookie = await signIn(a);
    await a.load(requestWith(cookie));
    spy.reset();
    await a.load(requestWith(cookie));
    expect(spy.calls).toEqual([]);
    clock.now += 5_000;
    await a.load(requestWith(cookie));
    expect(spy.calls).toEqual(["get"]);
  });

  it("a load in flight when its session is invalidated does not cache what it read", async () => {
    const inner = memoryStore();
    let hold: Promise<void> | null = null;
    const slow = Object.create(inner, {
      get: {
        value: async (id: string, now: number) => {
          const row = await inner.get(id, now);
          if (hold) await hold;
          return row;
        },
      },
    }) as SessionStore;
    const options = { secrets: [SECRET], cache: { ttl: "1h" as Duration } };
    const a = createSessions({ ...options, store: inner });
    const b = createSessions({ ...options, store: slow });
    const cookie = await signIn(a);
    let release = () => {};
    hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const inFlight = b.load(requestWith(cookie)); // reads the old row, then waits
    await new Promise((resolve) => setImmediate(resolve));
    const writer = await a.load(requestWith(cookie));
    writer.set("cart", ["new"]);
    await a.commit(writer); // publishes while b's load is in flight
    hold = null;
    release();
    expect((await inFlight).get("cart")).toEqual(CART); // what it read before the write
    expect((await b.load(requestWith(cookie))).get("cart")).toEqual(["new"]);
  });

  it("with an asynchronous channel a hit waits one turn, so a message already delivered is applied first", async () => {
    const channel = testChannel({ synchronous: false });
    const { a, b } = pair({ store: withChannel(memoryStore(), channel) });
    const cookie = await signIn(a);
    const id = (await b.load(requestWith(cookie))).id;
    await b.load(requestWith(cookie));
    await a.revoke(id); // delivered on the next tick, like a message sitting in a socket
    expect((await b.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("a hit waits until a connection closed in the same loop turn is noticed (pg and ioredis report it from 'close')", async () => {
    const channel = testChannel({ synchronous: false });
    const { a, b } = pair({ store: withChannel(memoryStore(), channel) });
    const cookie = await signIn(a);
    const id = (await b.load(requestWith(cookie))).id;
    await b.load(requestWith(cookie)); // cached in b
    // b's channel connection: a real socket whose "close" reports the channel down, as pg's does.
    const server = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.once("close", () => channel.drop());
    // The revoke's message is lost (the connection is going); in the same turn the connection
    // closes and b's next request arrives.
    channel.publish = async () => {};
    await a.revoke(id);
    socket.destroy();
    const next = b.load(requestWith(cookie));
    expect((await next).isNew).toBe(true);
    server.close();
  });

  it("touches at most once per touchInterval, also when every read is a hit", async () => {
    const { a, clock, spy } = pair({ touchInterval: "1m", ttl: "1h" });
    const cookie = await signIn(a);
    await a.commit(await a.load(requestWith(cookie)));
    clock.now += 61_000;
    spy.reset();
    for (let i = 0; i < 5; i++) await a.commit(await a.load(requestWith(cookie)));
    expect(spy.writes()).toEqual(["touch"]);
  });

  it("publishes every write, and maxEntries: 0 publishes without caching", async () => {
    const channel = testChannel();
    const clock = { now: T0 };
    const spy = spyStore(withChannel(memoryStore(), channel));
    const sessions = createSessions({ store: spy.store, secrets: [SECRET], clock: () => clock.now, cache: { maxEntries: 0 } });
    const cookie = await signIn(sessions);
    spy.reset();
    const s = await sessions.load(requestWith(cookie));
    await sessions.load(requestWith(cookie));
    expect(spy.calls).toEqual(["get", "get"]);
    s.set("x", 1);
    await sessions.commit(s);
    // The id, and the version it is now at (updateMessage: old caches just drop the id).
    expect(channel.published).toEqual([[s.id, `${s.id}@2`]]);
  });

  it("a channel that publishes on update gets the invalidation inside the write, not as a second call", async () => {
    // As the PostgreSQL store does (pg_notify in the UPDATE's own statement): the store
    // delivers the message itself when it is asked to, and only for an update that applied.
    const channel = Object.assign(testChannel(), { publishesOnUpdate: true });
    const inner = memoryStore();
    const updates: Array<{ publish: boolean | undefined; applied: boolean }> = [];
    const store = Object.create(inner, {
      invalidation: { value: channel },
      update: {
        configurable: true,
        value: async (row: Parameters<SessionStore["update"]>[0], version: number, options?: { publish?: boolean }) => {
          const applied = await inner.update(row, version);
          updates.push({ publish: options?.publish, applied });
          if (applied && options?.publish)
            for (const l of channelListeners(channel)) l.invalidate(updateMessage(row.id, row.version));
          return applied;
        },
      },
    }) as SessionStore;
    const { a, b } = pair({ store });
    const cookie = await signIn(a);
    await b.load(requestWith(cookie));
    channel.published.length = 0;
    updates.length = 0;

    const w = await a.load(requestWith(cookie));
    w.set("cart", []);
    await a.commit(w);
    expect(updates).toEqual([{ publish: true, applied: true }]);
    expect(channel.published).toEqual([]); // no separate publish for the write
    expect((await b.load(requestWith(cookie))).get("cart")).toEqual([]);

    const d = await a.load(requestWith(cookie));
    const id = d.id;
    d.destroy();
    await a.commit(d);
    expect(channel.published).toEqual([[id]]); // deletes still publish on their own
    expect((await b.load(requestWith(cookie))).isNew).toBe(true);
  });

  it("refuses the option on a store without a channel, and bad settings", () => {
    const bare = memoryStore();
    const noChannel = Object.create(bare, { invalidation: { value: undefined } }) as SessionStore;
    expect(() => createSessions({ store: noChannel, secrets: [SECRET], cache: {} })).toThrow(SessionConfigError);
    expect(() => createSessions({ store: bare, secrets: [SECRET], cache: { maxEntries: -1 } })).toThrow(SessionConfigError);
    expect(() => createSessions({ store: bare, secrets: [SECRET], cache: { ttl: 0 } })).toThrow(SessionConfigError);
    expect(() => createSessions({ store: bare, secrets: [SECRET], cache: false })).not.toThrow();
  });
});

describe("near-cache on SQLite (PRAGMA data_version)", () => {
  it("two connections to one file (as two processes): a revoke or write through one reaches the other's next request", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sessionkit-nc-"));
    const path = join(dir, "s.sqlite");
    const one = sqliteStore({ path });
    await one.migrate?.();
    const spy = spyStore(sqliteStore({ path }));
    const options = { secrets: [SECRET], cache: { ttl: "1h" as Duration } };
    const a = createSessions({ ...options, store: one });
    const b = createSessions({ ...options, store: spy.store });
    try {
      const cookie = await signIn(a);
      const id = (await b.load(requestWith(cookie))).id;
      spy.reset();
      expect((await b.load(requestWith(cookie))).get("cart")).toEqual(CART);
      expect(spy.calls).toEqual([]); // a hit

      const w = await a.load(requestWith(cookie));
      w.set("cart", []);
      await a.commit(w);
      expect((await b.load(requestWith(cookie))).get("cart")).toEqual([]);

      await b.load(requestWith(cookie));
      expect(await a.revoke(id)).toBe(true);
      expect((await b.load(requestWith(cookie))).isNew).toBe(true);
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rows pruned by the prune worker (its own connection) disappear from another store's cache at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sessionkit-nc-"));
    const path = join(dir, "s.sqlite");
    const one = sqliteStore({ path });
    const spy = spyStore(sqliteStore({ path }));
    // b's clock stays put, so for b the cached session is still live: only the invalidation can
    // tell it that the row is gone. a's clock is past the idle timeout, so a's prune deletes it.
    const clockA = { now: T0 };
    const a = createSessions({ store: one, secrets: [SECRET], clock: () => clockA.now });
    const b = createSessions({ store: spy.store, secrets: [SECRET], clock: () => T0, cache: { ttl: "1h" as Duration } });
    try {
      const cookie = await signIn(a);
      await b.load(requestWith(cookie));
      spy.reset();
      expect((await b.load(requestWith(cookie))).get("cart")).toEqual(CART);
      expect(spy.calls).toEqual([]); // a hit

      clockA.now = T0 + 8 * 86_400_000;
      expect(await a.prune()).toBe(1);
      expect(await sqlitePruneMode(one)).toBe("worker");
      const after = await b.load(requestWith(cookie));
      expect(after.isNew).toBe(true);
      expect(spy.calls).toEqual(["get"]); // the cache was emptied by data_version; the store has no row
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
