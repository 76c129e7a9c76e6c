/** The express-session bridge on the memory and SQLite stores, plus what only one store needs to show. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ExpressSessionRecord, expressSessionStore } from "../../src/adapters/express-session.js";
import { rowIdOf } from "../../src/adapters/express-session-record.js";
import { memoryStore } from "../../src/stores/memory.js";
import { sqliteStore } from "../../src/stores/sqlite.js";
import { expressSession, runExpressSessionStoreSuite, startExpressSessionApp } from "./express-session-store.case.js";
import { Browser, failingStore } from "./harness.js";

runExpressSessionStoreSuite("memory", {
  open: async () => {
    const store = memoryStore();
    return { store, close: () => store.close() };
  },
});

const dir = mkdtempSync(join(tmpdir(), "sessionkit-bridge-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
runExpressSessionStoreSuite("sqlite", {
  open: async () => {
    const store = sqliteStore({ path: join(dir, `bridge-${process.pid}.sqlite`) });
    await store.migrate?.();
    return { store, close: () => store.close() };
  },
});

describe("express-session bridge specifics", () => {
  const record = (n: number) => ({ cookie: { maxAge: 60_000 }, n }) as ExpressSessionRecord;

  it("is an express-session Store, and uses ttl for a browser-session cookie", async () => {
    const clock = { now: 5_000_000 };
    const inner = memoryStore();
    const store = expressSessionStore(inner, { clock: () => clock.now, ttl: "10s" });
    expect(store).toBeInstanceOf(expressSession.Store);
    await store.set("x", { cookie: { expires: null, originalMaxAge: null }, n: 1 } as ExpressSessionRecord);
    expect((await inner.get(rowIdOf("x"), clock.now))?.expiresAt).toBe(clock.now + 10_000);
  });

  it("absoluteTimeout caps the sliding cookie expiry from the session's creation", async () => {
    const clock = { now: 1_000_000 };
    const inner = memoryStore();
    const store = expressSessionStore(inner, { clock: () => clock.now, absoluteTimeout: "90s" });
    await store.set("x", record(1));
    clock.now += 50_000;
    await store.touch("x", record(1));
    expect((await inner.get(rowIdOf("x"), clock.now))?.expiresAt).toBe(1_000_000 + 90_000);
    clock.now += 41_000;
    expect(await store.get("x")).toBeNull();
  });

  it("a callback that throws surfaces as an uncaught exception, never as an unhandled rejection", async () => {
    const store = expressSessionStore(memoryStore());
    const seen: unknown[] = [];
    const listeners = process.listeners("uncaughtException");
    process.removeAllListeners("uncaughtException");
    const onUncaught = (error: unknown) => seen.push(error);
    const onRejection = (error: unknown) => seen.push(["rejection", error]);
    process.on("uncaughtException", onUncaught);
    process.on("unhandledRejection", onRejection);
    try {
      const returned = store.get("nobody", () => {
        throw new Error("thrown by the callback");
      });
      await expect(returned).resolves.toBeNull(); // the promise is not the callback's
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ message: "thrown by the callback" });
    } finally {
      process.off("uncaughtException", onUncaught);
      process.off("unhandledRejection", onRejection);
      for (const listener of listeners) process.on("uncaughtException", listener);
    }
  });

  it("with a callback a failure goes to the callback and the promise resolves; without, the promise rejects", async () => {
    const failing = failingStore();
    const store = expressSessionStore(failing);
    failing.failing.add("get");
    const error = await new Promise((resolve) => void store.get("a", (err) => resolve(err)));
    expect(error).toMatchObject({ name: "SessionStoreError", operation: "get" });
    await expect(store.get("a", () => undefined)).resolves.toBeUndefined();
    await expect(store.get("a")).rejects.toMatchObject({ name: "SessionStoreError" });
  });

  it("wraps a store failure once, with the store's name and the operation", async () => {
    const failing = failingStore();
    const store = expressSessionStore(failing);
    for (const op of ["get", "update", "create", "listByUser", "deleteByUser", "touch", "delete"]) failing.failing.add(op);
    const failures = [
      store.get("a"),
      store.set("a", record(1)),
      store.all(),
      store.length(),
      store.clear(),
      store.touch("a", record(1)),
      store.destroy("a"),
    ];
    for (const failure of failures) {
      const error = (await failure.then(
        () => null,
        (e: unknown) => e,
      )) as Error;
      expect(error).toMatchObject({ name: "SessionStoreError" });
      expect(error.message.match(/failed:/g)).toHaveLength(1);
      expect(error.message).toMatch(/^\[sessionkit\] \[memory\] \w+ failed: injected \w+ failure\./);
    }
  });

  it("a failing read before the handler answers 500 through express's error handling", async () => {
    const failing = failingStore();
    const server = await startExpressSessionApp(expressSessionStore(failing));
    try {
      const browser = new Browser(server.url);
      await browser.json("/view", { method: "POST" });
      failing.failing.add("get");
      // (A failing save happens after express-session sent the headers; it cannot become a 500.)
      expect((await browser.fetch("/read")).status).toBe(500);
    } finally {
      await server.close();
    }
  });
});
