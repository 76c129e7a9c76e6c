/** The express-session bridge with `secrets`: sessions sealed at rest with the engine's codec, bound to their row. */
import { describe, expect, it } from "vitest";
import { type ExpressSessionRecord, expressSessionStore } from "../../src/adapters/express-session.js";
import { rowIdOf } from "../../src/adapters/express-session-record.js";
import { memoryStore } from "../../src/stores/memory.js";

const SECRET = "bridge-secret-0123456789abcdef0123456789abcdef";
const OTHER = "other-secret-0123456789abcdef0123456789abcdef";

const record = { cookie: { maxAge: 60_000 }, cart: ["secret apple"] } as ExpressSessionRecord;

describe("express-session bridge encryption", () => {
  it("stores ciphertext, reads the session back, and all() decrypts too", async () => {
    const store = memoryStore();
    const bridge = expressSessionStore(store, { secrets: [SECRET] });
    await bridge.set("sid-1", record);
    const row = await store.get(rowIdOf("sid-1"), Date.now());
    expect(JSON.stringify(row)).not.toContain("secret apple");
    expect(await bridge.get("sid-1")).toEqual(record);
    expect(await bridge.all()).toEqual([record]);
  });

  it("rotation: a new secret in front still reads the old rows; a retired secret reads as missing", async () => {
    const store = memoryStore();
    await expressSessionStore(store, { secrets: [OTHER] }).set("sid-2", record);
    expect(await expressSessionStore(store, { secrets: [SECRET, OTHER] }).get("sid-2")).toEqual(record);
    expect(await expressSessionStore(store, { secrets: [SECRET] }).get("sid-2")).toBeNull();
  });

  it("a row cannot be moved to another session id, nor read without the secrets", async () => {
    const store = memoryStore();
    const bridge = expressSessionStore(store, { secrets: [SECRET] });
    await bridge.set("victim", record);
    await bridge.set("attacker", { cookie: { maxAge: 60_000 } } as ExpressSessionRecord);
    const victim = await store.get(rowIdOf("victim"), Date.now());
    const attacker = await store.get(rowIdOf("attacker"), Date.now());
    if (!victim || !attacker) throw new Error("rows missing");
    // The attacker copies the victim's sealed record into their own row.
    await store.update({ ...attacker, meta: victim.meta, version: attacker.version + 1 }, attacker.version);
    expect(await bridge.get("attacker")).toBeNull();
    expect(await expressSessionStore(store).get("victim")).toBeNull(); // plaintext reader: not a JSON session
  });

  it("without secrets the JSON is stored as is; short secrets are refused", async () => {
    const store = memoryStore();
    await expressSessionStore(store).set("plain", record);
    const row = await store.get(rowIdOf("plain"), Date.now());
    expect(row?.meta).toContain("secret apple");
    expect(await expressSessionStore(store, { secrets: [SECRET] }).get("plain")).toBeNull(); // unsealed rows are not trusted
    expect(() => expressSessionStore(store, { secrets: ["short"] })).toThrow(/at least 32/);
  });
});
