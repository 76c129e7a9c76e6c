/**
 * The near-cache on MySQL/MariaDB: no notifications there, so the channel polls a change log.
 * Two stores on their own pools share one table (two app servers): a write or revoke through
 * one reaches the other's cache within the polling interval (the documented staleness bound),
 * and a cache whose polling fails is bypassed.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Duration, InvalidationChannel, SessionStore } from "../../src/index.js";
import { createSessions } from "../../src/index.js";
import { changesTableOf, mysqlChannel } from "../../src/stores/mysql/channel.js";
import { mysqlStore } from "../../src/stores/mysql.js";
import { cookieOf, requestWith, SECRET } from "../helpers/engine.js";
import { describeWithService, uniqueName } from "../helpers/services.js";

const { url, describe } = describeWithService("mysql");
const INTERVAL = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(`near-cache on mysql (${url})`, () => {
  const table = uniqueName("sk_nc_my");
  const stores: SessionStore[] = [];
  let failing = false;

  /** A store whose channel polls every INTERVAL ms, and can be made to fail. */
  function storeWithChannel(): SessionStore {
    const base = mysqlStore({ uri: url, table });
    stores.push(base);
    const query = async (text: string, values?: unknown[]) => {
      if (failing && text.startsWith("SELECT")) throw new Error("cut");
      return raw(text, values);
    };
    const channel: InvalidationChannel = mysqlChannel({ table, interval: INTERVAL, query });
    return Object.create(base, { invalidation: { value: channel } }) as SessionStore;
  }

  let pool: import("mysql2/promise").Pool;
  const raw = async (text: string, values?: unknown[]) => (await pool.query(text, values))[0];

  beforeAll(async () => {
    const mysql = (await import("mysql2/promise")).default;
    pool = mysql.createPool({ uri: url, connectionLimit: 4 });
    const store = mysqlStore({ uri: url, table });
    await store.migrate();
    await store.close();
  });

  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {});
    await pool.query(`DROP TABLE IF EXISTS \`${table}\``);
    await pool.query(`DROP TABLE IF EXISTS \`${changesTableOf(table)}\``);
    await pool.end();
  });

  it("a write and a revoke through one server reach the other's cache within the polling interval", async () => {
    const options = { secrets: [SECRET], cache: { ttl: "1h" as Duration } };
    const a = createSessions({ ...options, store: storeWithChannel() });
    const b = createSessions({ ...options, store: storeWithChannel() });
    await sleep(3 * INTERVAL); // both channels up
    const s = await a.load(requestWith(null));
    s.set("cart", ["apple"]);
    await s.login("u1");
    const cookie = cookieOf(await a.commit(s));
    await b.load(requestWith(cookie));
    expect((await b.load(requestWith(cookie))).get("cart")).toEqual(["apple"]);

    const w = await a.load(requestWith(cookie));
    w.set("cart", []);
    await a.commit(w);
    await sleep(3 * INTERVAL);
    expect((await b.load(requestWith(cookie))).get("cart")).toEqual([]);

    await b.load(requestWith(cookie));
    expect(await a.revoke(s.id)).toBe(true);
    await sleep(3 * INTERVAL);
    expect((await b.load(requestWith(cookie))).isNew).toBe(true);

    // Polling fails: the cache empties and is bypassed, so a revoke is refused at once.
    const c = await a.load(requestWith(null));
    await c.login("u2");
    const cookie2 = cookieOf(await a.commit(c));
    await b.load(requestWith(cookie2));
    failing = true;
    await sleep(3 * INTERVAL);
    expect(await a.revoke(c.id)).toBe(true);
    expect((await b.load(requestWith(cookie2))).isNew).toBe(true);
    failing = false;
    await a.close();
    await b.close();
  }, 30_000);
});
