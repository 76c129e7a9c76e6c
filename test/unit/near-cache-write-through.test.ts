// Write-through: after this process's own write, its near-cache keeps the row it wrote, so the
// session's next request here reads nothing, but only when the cache has heard its write's own
// message last (nothing newer, no revoke) and only for the token the client now holds.
// Correctness only: no timings.
import { describe, expect, it } from "vitest";
import type { InvalidationChannel, InvalidationListener, SessionStore, Sessions, StoredSession } from "../../src/index.js";
import { createSessions, updateMessage } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { cookieOf, requestWith, SECRET, spyStore, T0 } from "../helpers/engine.js";

const gets = (calls: string[]) => calls.filter((c) => c === "get").length;

/** Two engines ("processes") on one memory store (its in-process channel), with a spy on the store. */
function onMemory(options: { cookieKeys?: string[] } = {}) {
  const spy = spyStore(memoryStore());
  const make = (): Sessions =>
    createSessions({ store: spy.store, secrets: [SECRET], clock: () => T0, cache: { maxEntries: 100, ttl: "1m" }, ...options });
  return { a: make(), b: make(), spy };
}

/**
 * An in-process channel the test drives: `send` delivers a publish to every subscriber (by
 * default at once; a test may hold it back). Returns the channel and `toAll`, which delivers.
 */
function testChannel(flags: Partial<InvalidationChannel>, send?: (ids: readonly string[] | "all") => Promise<void>) {
  const listeners = new Set<InvalidationListener>();
  const toAll = (ids: readonly string[] | "all") => {
    for (const l of listeners) ids === "all" ? l.invalidateAll() : l.invalidate(ids);
  };
  const channel: InvalidationChannel = {
    ...flags,
    subscribe(listener) {
      listeners.add(listener);
      listener.state(true);
      return async () => {
        listeners.delete(listener);
      };
    },
    publish: send ?? (async (ids) => toAll(ids)),
  };
  return { channel, toAll };
}

/**
 * A store that publishes inside its update, as the Redis and PostgreSQL ones do, delivering
 * the message through `deliver` so a test can add what else the channel brings meanwhile (a
 * later write's message, a revoke's) or lose it.
 */
function publishingStore() {
  const inner = memoryStore();
  const { channel, toAll } = testChannel({ publishesOnUpdate: true });
  const control = {
    /** What the update's own message turns into on the way (default: itself). */
    deliver: (message: readonly string[]) => toAll(message),
    toAll,
  };
  const store = Object.create(inner, {
    invalidation: { value: channel },
    update: {
      configurable: true,
      value: async (row: StoredSession, version: number, options?: { publish?: boolean }) => {
        const applied = await inner.update(row, version);
        if (applied && options?.publish) control.deliver(updateMessage(row.id, row.version));
        return applied;
      },
    },
  }) as SessionStore;
  const spy = spyStore(store);
  const sessions: Sessions = createSessions({
    store: spy.store,
    secrets: [SECRET],
    clock: () => T0,
    cache: { maxEntries: 100, ttl: "1m" },
  });
  return { sessions, spy, control };
}

/** Sets the cart to ["kiwi"] through one request, then clears the spy's record of store calls. */
async function writeKiwi(sessions: Sessions, spy: { reset(): unknown }, cookie: string) {
  const w = await sessions.load(requestWith(cookie));
  w.set("cart", ["kiwi"]);
  await sessions.commit(w);
  spy.reset();
  return w.id;
}

async function signIn(sessions: Sessions) {
  const s = await sessions.load(requestWith(null));
  s.set("cart", ["fig"]);
  await s.login("u1");
  return cookieOf(await sessions.commit(s));
}

describe("near-cache write-through", () => {
  it("the writer's next request is a hit after a create, a write and a login, and sees what a store read would", async () => {
    const { a, spy } = onMemory();
    const s = await a.load(requestWith(null));
    s.set("when", new Date(T0));
    s.set("gone", undefined);
    const cookie = cookieOf(await a.commit(s));
    spy.reset();
    const created = await a.load(requestWith(cookie));
    expect(gets(spy.calls)).toBe(0);
    // As JSON stores it: a Date is its ISO string, an undefined value is no key at all.
    expect(created.get("when")).toBe(new Date(T0).toISOString());
    expect(created.has("gone")).toBe(false);

    created.set("cart", ["fig", "plum"]);
    await a.commit(created);
    spy.reset();
    expect((await a.load(requestWith(cookie))).get("cart")).toEqual(["fig", "plum"]);
    expect(gets(spy.calls)).toBe(0);

    const l = await a.load(requestWith(cookie));
    await l.login("ann");
    const signedIn = cookieOf(await a.commit(l));
    spy.reset();
    const after = await a.load(requestWith(signedIn));
    expect([after.userId, gets(spy.calls)]).toEqual(["ann", 0]);
    // The old token is no key to the cached row: it reads the store, which refuses it.
    expect((await a.load(requestWith(cookie))).isNew).toBe(true);
    expect(gets(spy.calls)).toBe(1);
  });

  it("another process's cache drops the session on the write and reads it again", async () => {
    const { a, b, spy } = onMemory();
    const cookie = await signIn(a);
    await b.load(requestWith(cookie));
    const w = await a.load(requestWith(cookie));
    w.set("cart", []);
    await a.commit(w);
    spy.reset();
    expect((await b.load(requestWith(cookie))).get("cart")).toEqual([]);
    expect(gets(spy.calls)).toBe(1);
    expect((await a.load(requestWith(cookie))).get("cart")).toEqual([]);
    expect(gets(spy.calls)).toBe(1);
  });

  it("with cookieKeys, the new cookie is the key; the cookie before the change still works through the store", async () => {
    const { a, spy } = onMemory({ cookieKeys: ["theme"] });
    const fresh = await a.load(requestWith(null));
    fresh.set("theme", "dark");
    const first = cookieOf(await a.commit(fresh));
    const s = await a.load(requestWith(first));
    s.set("theme", "light");
    const second = cookieOf(await a.commit(s));
    expect(second).not.toBe(first);
    spy.reset();
    expect((await a.load(requestWith(second))).get("theme")).toBe("light");
    expect(gets(spy.calls)).toBe(0);
    expect((await a.load(requestWith(first))).get("theme")).toBe("light");
    expect(gets(spy.calls)).toBe(1);
  });

  it("a store that publishes in its update: its own message back makes the next request a hit", async () => {
    const { sessions, spy } = publishingStore();
    const cookie = await signIn(sessions);
    await writeKiwi(sessions, spy, cookie);
    expect((await sessions.load(requestWith(cookie))).get("cart")).toEqual(["kiwi"]);
    expect(gets(spy.calls)).toBe(0);
  });

  for (const [what, around] of [
    ["a later write's message after its own", (own: string[], id: string, v: number) => [own, updateMessage(id, v + 1)]],
    ["a revoke after its own", (own: string[], id: string) => [own, [id]]],
    ["a revoke before its own (messages sent from two nodes may cross)", (own: string[], id: string) => [[id], own]],
    ["an old sessionkit's write after its own (the id alone)", (own: string[], id: string) => [own, [id]]],
  ] as const) {
    it(`keeps nothing when the channel brought ${what}`, async () => {
      const { sessions, spy, control } = publishingStore();
      const cookie = await signIn(sessions);
      control.deliver = (message) => {
        const [id, tagged] = message as [string, string];
        for (const m of around([...message], id, Number(tagged.split("@")[1]))) control.toAll(m);
      };
      await writeKiwi(sessions, spy, cookie);
      await sessions.load(requestWith(cookie));
      expect(gets(spy.calls)).toBe(1);
    });
  }

  it("a late message of an earlier write, after its own, neither keeps the row out nor drops it", async () => {
    const { sessions, spy, control } = publishingStore();
    const cookie = await signIn(sessions);
    control.deliver = (message) => {
      const [id, tagged] = message as [string, string];
      control.toAll(message);
      control.toAll(updateMessage(id, Number(tagged.split("@")[1]) - 1));
    };
    const id = await writeKiwi(sessions, spy, cookie);
    expect((await sessions.load(requestWith(cookie))).get("cart")).toEqual(["kiwi"]);
    expect(gets(spy.calls)).toBe(0);
    // Delivered after the row is cached: it stays too.
    spy.store.invalidation?.publish(updateMessage(id, 1));
    expect((await sessions.load(requestWith(cookie))).get("cart")).toEqual(["kiwi"]);
    expect(gets(spy.calls)).toBe(0);
  });

  it("keeps the row it wrote when its own message is lost (the write is the truth), never the old one", async () => {
    const { sessions, spy, control } = publishingStore();
    const cookie = await signIn(sessions);
    await sessions.load(requestWith(cookie));
    control.deliver = () => {};
    await writeKiwi(sessions, spy, cookie);
    expect((await sessions.load(requestWith(cookie))).get("cart")).toEqual(["kiwi"]);
    expect(gets(spy.calls)).toBe(0);
  });

  it("a load in flight keeps what it read when the only message since names that version", async () => {
    const { a, b, spy } = onMemory();
    const cookie = await signIn(a);
    // b reads while a's write of the next version lands: b read either the old row (refused,
    // the message names another version) or the new one (kept).
    const w = await a.load(requestWith(cookie));
    w.set("cart", ["plum"]);
    const [seen] = await Promise.all([b.load(requestWith(cookie)), a.commit(w)]);
    spy.reset();
    const again = await b.load(requestWith(cookie));
    expect(again.get("cart")).toEqual(["plum"]);
    expect(gets(spy.calls)).toBe(JSON.stringify(seen.get("cart")) === '["plum"]' ? 0 : 1);
  });

  it("a channel whose publish takes a round trip (MySQL's INSERT): the next request meanwhile is a hit", async () => {
    let release = () => {};
    const { channel, toAll } = testChannel({ synchronous: true }, async (ids) => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      toAll(ids);
    });
    const spy = spyStore(Object.create(memoryStore(), { invalidation: { value: channel } }) as SessionStore);
    const sessions: Sessions = createSessions({ store: spy.store, secrets: [SECRET], clock: () => T0, cache: { ttl: "1m" } });
    const s = await sessions.load(requestWith(null));
    s.set("cart", ["fig"]);
    const cookie = cookieOf(await sessions.commit(s));
    const w = await sessions.load(requestWith(cookie));
    w.set("cart", ["kiwi"]);
    const committing = sessions.commit(w);
    while (spy.calls.at(-1) !== "update") await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    spy.reset();
    // The publish is still on its way; the written row is already kept.
    expect((await sessions.load(requestWith(cookie))).get("cart")).toEqual(["kiwi"]);
    expect(gets(spy.calls)).toBe(0);
    release();
    await committing;
  });

  it("a message naming a version makes no other cache keep anything, and still drops the id", async () => {
    const { a, b, spy } = onMemory();
    const cookie = await signIn(a);
    const id = (await b.load(requestWith(cookie))).id;
    await b.load(requestWith(cookie));
    spy.reset();
    // Delivered to both caches, as another process's write would be.
    await spy.store.invalidation?.publish(updateMessage(id, 99));
    await b.load(requestWith(cookie));
    await a.load(requestWith(cookie));
    expect(gets(spy.calls)).toBe(2);
  });
});
