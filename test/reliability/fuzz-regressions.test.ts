/**
 * Counter-examples the fuzz campaigns found (shrunk), kept as plain tests. Each one was a
 * question the campaign's model got wrong or a behaviour worth pinning; none let anyone in.
 */
import { describe, expect, it } from "vitest";
import { createSessions, type SessionEvents, type StoredSession } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { spyStore } from "../helpers/engine.js";
import { rawRequest } from "../helpers/raw-http.js";
import { startApp } from "./apps.js";
import { FUZZ_SECRET } from "./seeds.js";

async function setup() {
  const spy = spyStore(memoryStore());
  const sessions = createSessions<Record<string, unknown>>({
    store: spy.store,
    secrets: [FUZZ_SECRET],
    transport: ["cookie", { header: "authorization" }],
    cookieKeys: ["theme"],
    touchInterval: "1h",
  });
  const s = await sessions.load(new Headers());
  s.set("theme", "dark");
  s.set("cart", [1]);
  const pair = (await sessions.commit(s)).getSetCookie()[0]?.split(";")[0] as string;
  const name = pair.slice(0, pair.indexOf("="));
  const value = pair.slice(name.length + 1);
  spy.reset();
  return { spy, sessions, name, value, id: s.id };
}

describe("fuzz regressions", () => {
  it("a Bearer header with the cookie's token minus its payload segment is that token (same session, never another)", async () => {
    const { sessions, value, id } = await setup();
    expect(value.split(".")).toHaveLength(4); // id.secret.sig.payload
    const head = value.split(".").slice(0, 3).join(".");
    const s = await sessions.load(new Headers({ authorization: `Bearer ${head}` }));
    expect(s.isNew).toBe(false);
    expect(s.id).toBe(id);
  });

  it("a percent-encoded spelling of an issued cookie is refused: one spelling per token", async () => {
    const { sessions, name, value, id } = await setup();
    const encoded = encodeURIComponent(value).replace(/\./g, "%2E").replace(/A/g, "%41");
    const s = await sessions.load(new Headers({ cookie: `${name}=${encoded}` }));
    // The cookie is parsed without percent-decoding, so the token check sees "%2E" and refuses it.
    expect(s.isNew).toBe(true);
    expect((await sessions.load(new Headers({ cookie: `${name}=${value}` }))).id).toBe(id);
    // One changed character under the encoding is refused.
    const changed = encoded.replace(/^./, (c) => (c === "a" ? "b" : "a"));
    expect((await sessions.load(new Headers({ cookie: `${name}=${changed}` }))).isNew).toBe(true);
  });

  it("CR/LF after a valid token in a raw Cookie header: the header ends there, nothing is injected into the response", async () => {
    const { sessions, spy, name, value } = await setup();
    const app = await startApp("koa", sessions);
    try {
      for (const injection of ["\r\nSet-Cookie: pwn=1", "\r\n\r\nHTTP/1.1 200 OK", "\nX-Injected: 1", "\u0000"]) {
        const head = `GET /fuzz HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${name}=${value}${injection}\r\nConnection: close\r\n\r\n`;
        const res = await rawRequest(app.port, head);
        expect(res.statuses.every((c) => c < 500)).toBe(true);
        expect(res.text).not.toMatch(/set-cookie:\s*pwn|x-injected/i);
      }
      expect(spy.writes()).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it("a flipped bit in the envelope's key id or format byte is refused and reported (the header is authenticated)", async () => {
    const { sessions, spy, name, value, id } = await setup();
    const reasons: Array<SessionEvents["invalid-token"]["reason"]> = [];
    sessions.on("invalid-token", (e) => reasons.push(e.reason));
    const row = (await spy.store.get(id, Date.now())) as StoredSession;
    const edit = async (at: number) => {
      const data = new Uint8Array(row.data);
      data[at] = (data[at] as number) ^ 1;
      const now = (await spy.store.get(id, Date.now())) as StoredSession;
      expect(await spy.store.update({ ...now, data }, now.version)).toBe(true);
    };
    await edit(2); // key id: part of the associated data, so no key authenticates it
    expect((await sessions.load(new Headers({ cookie: `${name}=${value}` }))).isNew).toBe(true);
    await edit(0); // format byte
    expect((await sessions.load(new Headers({ cookie: `${name}=${value}` }))).isNew).toBe(true);
    expect(reasons).toEqual(["undecodable", "undecodable"]);
  });
});
