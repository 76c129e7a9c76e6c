/**
 * Store outages in the middle of a load run. An app (one adapter per store) serves virtual
 * users who each keep one session and read and write it without pause. Midway the store goes
 * away for a few seconds, then comes back:
 *
 *   - PostgreSQL and MariaDB: the connection is cut through a loopback proxy
 *     (test/helpers/tcp-proxy.ts): every open connection is reset, new ones are refused;
 *   - Redis: a redis-server the test started itself is stopped (SIGTERM) and started again on
 *     the same port and data (append-only file on).
 *
 * Checked for every request: a failure is a clean 500 whose error is a SessionStoreError; a
 * read that answers 200 is never a fresh session and holds what the user last committed; after
 * the outage the same app serves again by itself. At the end every user's session still holds
 * its last committed write. Figures: requests, failures during the outage, errors after
 * recovery (0), sessions lost (0), seconds to recover.
 *
 * Quick: 12 users, 2 s outage. Full (SESSIONKIT_LONG=1): 40 users, 5 s outage.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions } from "../../src/index.js";
import { freePorts, type RedisServer, redisBinariesMissing, redisServer } from "../helpers/redis-server.js";
import { describeWithService } from "../helpers/services.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { type AdapterKind, startApp, userRequest } from "./apps.js";
import { recordFigure, scale } from "./figures.js";
import { freshStore, openStore, type StoreKind } from "./stores.js";

const USERS = scale(12, 40);
const BEFORE_MS = scale(1000, 4000);
const OUTAGE_MS = scale(2000, 5000);
const AFTER_MS = scale(2500, 8000);

interface Outage {
  /** Makes the store unreachable. */
  begin(): Promise<void>;
  /** Makes it reachable again; resolves when it is (the recovery clock starts then). */
  end(): Promise<void>;
}

interface Result {
  at: number;
  status: number;
  ok: boolean;
  problem?: string;
}

async function runOutage(kind: StoreKind, adapter: AdapterKind, url: string, outage: Outage) {
  const { spec, drop } = await freshStore(kind, url);
  const opened = openStore(spec);
  await opened.ready();
  const sessions = createSessions<Record<string, unknown>>({
    store: opened.store,
    secrets: ["outage-secret-0123456789abcdef0123456789abcd"],
    cookie: { secure: false },
    touchInterval: "1s",
  });
  const app = await startApp(adapter, sessions);

  // Each user: a cookie, the last value a 200 confirmed, and a value whose write failed (it
  // may or may not have reached the store: both are acceptable until the next confirmed write).
  const users = await Promise.all(
    Array.from({ length: USERS }, async (_, u) => {
      const res = await fetch(`${app.url}/set?key=n&value=0`, { method: "POST" });
      expect(res.status).toBe(200);
      return {
        u,
        cookie: res.headers.getSetCookie()[0]?.split(";")[0] as string,
        committed: 0,
        uncertain: new Set<number>(),
        next: 1,
      };
    }),
  );

  const results: Result[] = [];
  let phase: "before" | "outage" | "after" = "before";
  let outageStart = 0;
  let outageEnd = 0;
  let stop = false;

  const loop = async (user: (typeof users)[number]) => {
    while (!stop) {
      const write = Math.random() < 0.5;
      const value = user.next++;
      const at = Date.now();
      // The cookie never changes here (no login); a Set-Cookie is a touch of the same token.
      const answer = await userRequest(app.url, user.cookie, write, value);
      if ("transportError" in answer) {
        results.push({ at, status: 0, ok: false, problem: `transport: ${answer.transportError}` });
        continue;
      }
      const { status, body } = answer;
      if (status === 200) {
        if (write) {
          user.committed = value;
          user.uncertain.clear();
          results.push({ at, status, ok: true });
        } else {
          const data = body.data as Record<string, unknown> | undefined;
          const n = data?.n as number | undefined;
          let problem: string | undefined;
          if (body.isNew) problem = "fresh session handed out in place of the real one";
          else if (n !== user.committed && !user.uncertain.has(n as number)) problem = `read n=${n}, committed ${user.committed}`;
          else if (n !== user.committed) {
            // A write that failed at the client did reach the store: it is the value now.
            user.committed = n as number;
            user.uncertain.clear();
          }
          results.push({ at, status, ok: problem === undefined, problem });
        }
      } else {
        if (write) user.uncertain.add(value);
        const clean = status >= 500 && body.storeError === true;
        results.push({ at, status, ok: false, problem: clean ? undefined : `unclean ${status} ${JSON.stringify(body)}` });
      }
      await new Promise((r) => setTimeout(r, Math.random() * 5));
    }
  };

  const started = Date.now();
  const running = Promise.all(users.map(loop));
  await new Promise((r) => setTimeout(r, BEFORE_MS));
  phase = "outage";
  outageStart = Date.now();
  await outage.begin();
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  await outage.end();
  outageEnd = Date.now();
  phase = "after";
  await new Promise((r) => setTimeout(r, AFTER_MS));
  stop = true;
  await running;
  void phase;

  // Recovery: the first moment after which every request succeeded.
  const after = results.filter((r) => r.at >= outageEnd);
  const lastFailure = after.filter((r) => !r.ok).reduce((m, r) => Math.max(m, r.at), outageEnd);
  const firstSuccessAfter = after.find((r) => r.ok && r.at >= lastFailure)?.at ?? Number.NaN;
  const recoverSeconds = Math.max(0, (firstSuccessAfter - outageEnd) / 1000);
  // Errors after recovery: failures among requests that started once the app had served again.
  const firstOk = after.find((r) => r.ok)?.at ?? Number.POSITIVE_INFINITY;
  const errorsAfterRecovery = after.filter((r) => r.at > firstOk && !r.ok);
  const unclean = results.filter((r) => r.problem !== undefined);

  // No committed write lost: every session reads back its last confirmed value.
  let lost = 0;
  for (const user of users) {
    const res = await fetch(`${app.url}/get`, { headers: { cookie: user.cookie } });
    const body = (await res.json()) as { isNew: boolean; data: { n?: number } };
    const n = body.data.n as number;
    if (res.status !== 200 || body.isNew || (n !== user.committed && !user.uncertain.has(n))) lost++;
  }

  await app.close();
  await sessions.close();
  await opened.close();
  await drop();

  const during = results.filter((r) => r.at >= outageStart && r.at < outageEnd);
  const figures = {
    requests: results.length,
    "failed during outage": during.filter((r) => !r.ok).length,
    // Requests that started in the outage, waited for a connection and were answered right after it.
    "started in outage, served after": during.filter((r) => r.ok).length,
    "unclean failures": unclean.length,
    "errors after recovery": errorsAfterRecovery.length,
    "sessions lost": lost,
    "outage seconds": (outageEnd - outageStart) / 1000,
    "seconds to recover": Math.round(recoverSeconds * 100) / 100,
    "run seconds": (Date.now() - started) / 1000,
  };
  recordFigure({ section: "outages", name: `${kind} (${adapter})`, values: figures });
  expect(unclean.slice(0, 5)).toEqual([]);
  expect(errorsAfterRecovery.slice(0, 5)).toEqual([]);
  expect(lost).toBe(0);
  expect(during.filter((r) => !r.ok).length).toBeGreaterThan(0); // the outage was real
  expect(Number.isFinite(firstSuccessAfter)).toBe(true); // recovered by itself
  expect(recoverSeconds).toBeLessThan(10);
}

for (const [kind, adapter] of [
  ["postgres", "express"],
  ["mysql", "fastify"],
] as const) {
  const { url, describe: maybe } = describeWithService(kind);
  maybe(`${kind} outage under load (connection cut through a proxy)`, () => {
    let proxy: TcpProxy;
    beforeAll(async () => {
      const target = new URL(url);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    });
    afterAll(async () => {
      await proxy?.close();
    });
    it(`${USERS} users reading and writing; ${OUTAGE_MS / 1000} s cut; clean 5xx, nothing lost, recovers by itself`, async () => {
      await runOutage(kind, adapter, proxy.urlFor(url), {
        begin: async () => proxy.cut(),
        end: async () => proxy.restore(),
      });
    }, 120_000);
  });
}

const missing = redisBinariesMissing();
describe.skipIf(missing !== null)("redis outage under load (own redis-server stopped and restarted)", () => {
  let server: RedisServer;
  beforeAll(async () => {
    const [port] = await freePorts(1);
    server = redisServer(port as number, ["--appendonly", "yes", "--appendfsync", "always"]);
    await server.start();
  });
  afterAll(async () => {
    await server?.destroy();
  });
  it(`${USERS} users reading and writing; ${OUTAGE_MS / 1000} s stop; clean 5xx, nothing lost, recovers by itself`, async () => {
    await runOutage("redis", "hono", `redis://127.0.0.1:${server.port}`, {
      begin: () => server.stop(),
      end: () => server.start(),
    });
  }, 120_000);
});
