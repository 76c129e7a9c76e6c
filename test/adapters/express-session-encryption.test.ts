/** The express-session bridge with `secrets`: sessions encrypted at rest, bound to their row. */
import { describe, expect, it } from "vitest";
import { type ExpressSessionRecord, expressSessionStore } from "../../src/adapters/express-session.js";
import { hashToken } from "../../src/crypto/token.js";
import { memoryStore } from "../../src/stores/memory.js";

const SECRET = "bridge-secret-0123456789abcdef0123456789abcdef";
const OTHER = "other-secret-0123456789abcdef0123456789abcdef";

type Bridge = ReturnType<typeof expressSessionStore>;
const set = (bridge: Bridge, sid: string, session: ExpressSessionRecord) =>
  new Promise<void>((resolve, reject) => bridge.set(sid, session, (error) => (error ? reject(error) : resolve())));
const get = (bridge: Bridge, sid: string) =>
  new Promise<ExpressSessionRecord | null | undefined>((resolve, reject) =>
    bridge.get(sid, (error, session) => (error ? reject(error) : resolve(session))),
  );

const record = { cookie: { maxAge: 60_000 }, cart: ["secret apple"] } as ExpressSessionRecord;

describe("express-session bridge encryption", () => {
  it("stores ciphertext, reads the session back, and all() decrypts too", async () => {
    const store = memoryStore();
    const bridge = expressSessionStore(store, { secrets: [SECRET] });
    await set(bridge, "sid-1", record);
    const row = await store.get(hashToken("sid-1"), Date.now());
    expect(Buffer.from(row?.data ?? []).toString("latin1")).not.toContain("secret apple");
    expect(await get(bridge, "sid-1")).toEqual(record);
    const all = await new Promise<unknown[]>((resolve, reject) =>
      bridge.all((error, sessions) => (error ? reject(error) : resolve(sessions ?? []))),
    );
    expect(all).toEqual([record]);
  });

  it("rotation: a new secret in front still reads the old rows; a retired secret reads as missing", async () => {
    const store = memoryStore();
    await set(expressSessionStore(store, { secrets: [OTHER] }), "sid-2", record);
    expect(await get(expressSessionStore(store, { secrets: [SECRET, OTHER] }), "sid-2")).toEqual(record);
    expect(await get(expressSessionStore(store, { secrets: [SECRET] }), "sid-2")).toBeNull();
  });

  it("a row cannot be moved to another session id", async () => {
    const store = memoryStore();
    const bridge = expressSessionStore(store, { secrets: [SECRET] });
    await set(bridge, "victim", record);
    const row = await store.get(hashToken("victim"), Date.now());
    if (!row) throw new Error("row missing");
    await store.create({ ...row, id: hashToken("attacker") });
    expect(await get(bridge, "attacker")).toBeNull();
  });

  it("without secrets the JSON is stored as is; short secrets are refused", async () => {
    const store = memoryStore();
    await set(expressSessionStore(store), "plain", record);
    const row = await store.get(hashToken("plain"), Date.now());
    expect(Buffer.from(row?.data ?? []).toString()).toContain("secret apple");
    expect(() => expressSessionStore(store, { secrets: ["short"] })).toThrow(/at least 32/);
  });
});
