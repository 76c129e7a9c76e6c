/**
 * Faults against the SQL server stores: a dropped connection, connection refused, an unknown
 * user, a missing table and a query timeout each reject `load`/`commit` with a
 * `SessionStoreError` naming the store and keeping the cause, and the same `sessions` object
 * works again once the fault is gone. The shared database servers are never stopped: a
 * loopback proxy (test/helpers/tcp-proxy.ts) cuts the connection instead. A failing statement
 * never lets its bound values (user id, user agent...) into the error.
 */
import net from "node:net";
import { inspect } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSessions, type SessionStore, SessionStoreError } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { type SqlAdmin, sqlBackends } from "../multi-server/sql-stores.js";

const secrets = ["fault-test-secret-0123456789abcdef0123456789"];
const make = (store: SessionStore) => createSessions<Record<string, unknown>>({ store, secrets, cookie: { secure: false } });
const request = (cookie?: string) => new Request("http://127.0.0.1/", cookie ? { headers: { cookie } } : {});
const cookieOf = (headers: Headers) => (headers.get("set-cookie") ?? "").split(";")[0] as string;

/** A validly signed cookie for a session no store knows: `load` has to ask the store. */
async function signedCookie(): Promise<string> {
  const sessions = make(memoryStore());
  const s = await sessions.load(request());
  s.set("x", 1);
  return cookieOf(await sessions.commit(s));
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Asserts a rejection is a SessionStoreError for `store`, keeping a cause that matches `cause`. */
async function expectStoreError(promise: Promise<unknown>, store: string, cause: RegExp) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SessionStoreError);
  const e = error as SessionStoreError;
  expect(e.store).toBe(store);
  expect(e.message).toContain(`[sessionkit] [${store}]`);
  expect(e.cause).toBeDefined();
  expect(e.message).toMatch(cause);
  return e;
}

for (const backend of Object.values(sqlBackends)) {
  const { url, describe } = describeWithService(backend.kind);

  describe(`${backend.kind} store faults (${url})`, () => {
    const table = uniqueName(`sk_fault_${backend.kind.slice(0, 2)}`);
    let admin: SqlAdmin;
    let cookie: string;

    beforeAll(async () => {
      admin = backend.admin(url);
      const store = backend.store(url, table);
      await store.migrate();
      await store.close();
      cookie = await signedCookie();
    });
    afterAll(async () => {
      await admin.dropTable(table);
      await admin.end();
    });

    describe("through a proxy that is cut and restored", () => {
      let proxy: TcpProxy;
      beforeAll(async () => {
        const target = new URL(url);
        proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
      });
      afterAll(async () => {
        await proxy.close();
      });

      it("load and commit reject while cut; the same sessions object works after restore", async () => {
        const sessions = make(backend.store(proxy.urlFor(url), table, { connectTimeout: 2000 }));
        try {
          const first = await sessions.load(request());
          first.set("cart", ["apple"]);
          const sid = cookieOf(await sessions.commit(first));
          expect((await sessions.load(request(sid))).get("cart")).toEqual(["apple"]);
          expect(proxy.open).toBeGreaterThan(0);

          proxy.cut();
          await expectStoreError(sessions.load(request(sid)), backend.kind, /get failed/);
          const fresh = await sessions.load(request());
          fresh.set("cart", ["pear"]);
          await expectStoreError(sessions.commit(fresh), backend.kind, /create failed/);

          proxy.restore();
          const again = await sessions.load(request(sid));
          expect(again.isNew).toBe(false);
          expect(again.get("cart")).toEqual(["apple"]);
          again.set("cart", ["apple", "plum"]);
          await sessions.commit(again);
          expect((await sessions.load(request(sid))).get("cart")).toEqual(["apple", "plum"]);
        } finally {
          await sessions.close();
        }
      });
    });

    it("connection refused rejects load and commit with the cause", async () => {
      const dead = new URL(url);
      dead.hostname = "127.0.0.1";
      dead.port = String(await closedPort());
      const sessions = make(backend.store(dead.toString(), table, { connectTimeout: 2000 }));
      try {
        await expectStoreError(sessions.load(request(cookie)), backend.kind, /ECONNREFUSED/);
        const s = await sessions.load(request());
        s.set("a", 1);
        await expectStoreError(sessions.commit(s), backend.kind, /ECONNREFUSED/);
      } finally {
        await sessions.close();
      }
    });

    it("an unknown database user rejects load and commit", async () => {
      const sessions = make(backend.store(backend.unknownUser(url), table, { connectTimeout: 2000 }));
      try {
        await expectStoreError(sessions.load(request(cookie)), backend.kind, /sessionkit_no_such_(role|user)/);
        const s = await sessions.load(request());
        s.set("a", 1);
        await expectStoreError(sessions.commit(s), backend.kind, /sessionkit_no_such_(role|user)/);
      } finally {
        await sessions.close();
      }
    });

    it("a missing table says to run migrate(); after migrate() the same sessions object works", async () => {
      const missing = uniqueName(`sk_fault_missing_${backend.kind.slice(0, 2)}`);
      const store = backend.store(url, missing);
      const sessions = make(store);
      try {
        await expectStoreError(sessions.load(request(cookie)), backend.kind, /does not exist; run store\.migrate\(\)/);
        const s = await sessions.load(request());
        s.set("a", 1);
        await expectStoreError(sessions.commit(s), backend.kind, /does not exist; run store\.migrate\(\)/);
        await store.migrate();
        const sid = cookieOf(await sessions.commit(s));
        expect((await sessions.load(request(sid))).get("a")).toBe(1);
      } finally {
        await sessions.close();
        await admin.dropTable(missing);
      }
    });

    it("a statement the server refuses: the SessionStoreError holds none of the values it carried", async () => {
      const checked = uniqueName(`sk_fault_check_${backend.kind.slice(0, 2)}`);
      const store = backend.store(url, checked);
      const sessions = make(store);
      try {
        await store.migrate();
        // A constraint the row breaks: PostgreSQL then details the whole failing row, and
        // mysql2 keeps the statement with every value inlined.
        await admin.exec(
          `ALTER TABLE ${backend.kind === "postgres" ? `"${checked}"` : `\`${checked}\``} ADD CONSTRAINT ${checked}_ua CHECK (user_agent NOT LIKE '%Distinctive%')`,
        );
        const agent = "AgentSmith/9.9 (Distinctive; fault-test)";
        const s = await sessions.load(new Request("http://127.0.0.1/", { headers: { "user-agent": agent } }));
        s.set("a", 1);
        await s.login("user-7f3a9c-fault");
        const error = await expectStoreError(sessions.commit(s), backend.kind, /failed/);
        const text = `${error.message}\n${inspect(error, { depth: 10 })}`;
        for (const value of ["AgentSmith", "user-7f3a9c-fault", s.id]) expect(text).not.toContain(value);
        expect(error.cause).toBeInstanceOf(Error);
        expect(error.cause).not.toBeInstanceOf(SessionStoreError); // wrapped once
      } finally {
        await sessions.close();
        await admin.dropTable(checked);
      }
    });

    it("a query that outlives queryTimeout rejects; once the lock is gone the same sessions object works", async () => {
      // Generous enough that a normal query on a busy CI machine never hits it.
      const sessions = make(backend.store(url, table, { queryTimeout: 1000 }));
      try {
        const first = await sessions.load(request());
        first.set("n", 1);
        const sid = cookieOf(await sessions.commit(first));
        const release = await admin.lockTable(table);
        try {
          await expectStoreError(sessions.load(request(sid)), backend.kind, /timeout/i);
        } finally {
          await release();
        }
        expect((await sessions.load(request(sid))).get("n")).toBe(1);
      } finally {
        await sessions.close();
      }
    });
  });
}
