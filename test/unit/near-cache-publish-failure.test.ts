/** A lost invalidation message never undoes a write that already happened. */
import { describe, expect, it } from "vitest";
import type { InvalidationChannel, SessionStore } from "../../src/contract/store.js";
import { createSessions, SessionStoreError } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { cookieOf, requestWith } from "../helpers/engine.js";

/** The memory store with a channel that delivers nothing and fails to publish while `down`. */
function storeWithFlakyChannel() {
  const state = { down: false };
  const inner = memoryStore();
  const channel: InvalidationChannel = {
    subscribe(listener) {
      listener.state(true);
      return async () => undefined;
    },
    async publish() {
      if (state.down) throw new Error("channel unreachable");
    },
    synchronous: true,
  };
  const store: SessionStore = { ...inner, name: "flaky", invalidation: channel };
  return { store, state };
}

describe("near-cache: a publish that fails after the write", () => {
  it("a login still commits and sends its new cookie; the failure goes to the error event", async () => {
    const { store, state } = storeWithFlakyChannel();
    const sessions = createSessions({
      store,
      secrets: ["flaky-secret-0123456789abcdef0123456789abc"],
      cache: { maxEntries: 10, ttl: "10s" },
    });
    const errors: unknown[] = [];
    sessions.on("error", (e) => errors.push(e.error));
    const first = await sessions.load(requestWith(null));
    first.set("a", 1);
    const cookie = cookieOf(await sessions.commit(first));
    state.down = true;
    const s = await sessions.load(requestWith(cookie));
    await s.login("u");
    const headers = await sessions.commit(s);
    const fresh = cookieOf(headers);
    expect(fresh).not.toBe(cookie);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SessionStoreError);
    state.down = false;
    expect((await sessions.load(requestWith(fresh))).userId).toBe("u");
  });

  it("revoke deletes, then rejects so the caller retries; the retry publishes again", async () => {
    const { store, state } = storeWithFlakyChannel();
    const sessions = createSessions({
      store,
      secrets: ["flaky-secret-0123456789abcdef0123456789abc"],
      cache: { maxEntries: 10, ttl: "10s" },
    });
    const first = await sessions.load(requestWith(null));
    first.set("a", 1);
    const cookie = cookieOf(await sessions.commit(first));
    state.down = true;
    await expect(sessions.revoke(first.id)).rejects.toBeInstanceOf(SessionStoreError);
    expect((await sessions.load(requestWith(cookie))).isNew).toBe(true); // deleted all the same
    state.down = false;
    await expect(sessions.revoke(first.id)).resolves.toBe(false);
  });
});
