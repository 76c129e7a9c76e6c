/**
 * Four app processes behind a round-robin proxy, on one shared store (PostgreSQL, MariaDB,
 * Redis): each process runs another adapter (Express, Fastify, Hono, Koa) with its own pool
 * or client. A session works across all four; a revoke through one is refused by all four on
 * the very next request; 200 per-key writes spread over the four all survive; concurrent
 * logins past maxSessionsPerUser from the four processes leave the user within the limit.
 *
 * Quick: 5 revoke rounds, 3 limit rounds of 12 logins, 80 writers. Full (SESSIONKIT_LONG=1): 50
 * and 20 rounds, 200 writers.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RoundRobinProxy, startRoundRobinProxy } from "../helpers/round-robin-proxy.js";
import { describeWithService } from "../helpers/services.js";
import { ADAPTERS } from "../reliability/apps.js";
import { recordFigure, scale } from "../reliability/figures.js";
import { freshStore, SHARED_STORES } from "../reliability/stores.js";
import { ADAPTER_APP, type AppProcess, startProcess, stopProcess } from "./processes.js";

const PROCESSES = 4;
const REVOKE_ROUNDS = scale(5, 50);
const LIMIT_ROUNDS = scale(3, 20);
const LOGINS = 12;
const MAX = 3;
const WRITERS = scale(80, 200);

interface Reply {
  status: number;
  cookie: string | null;
  body: Record<string, unknown>;
}

async function call(base: string, method: "GET" | "POST", path: string, cookie?: string | null): Promise<Reply> {
  const res = await fetch(`${base}${path}`, { method, headers: cookie ? { cookie } : {} });
  const line = res.headers.getSetCookie()[0];
  return {
    status: res.status,
    cookie: line ? (line.split(";")[0] as string) : null,
    body: (await res.json()) as Record<string, unknown>,
  };
}

for (const kind of SHARED_STORES) {
  const { url, describe } = describeWithService(kind);

  describe(`${PROCESSES} app processes behind a round-robin proxy on one ${kind}`, () => {
    let apps: AppProcess[] = [];
    let proxy: RoundRobinProxy;
    let drop: () => Promise<void>;

    beforeAll(async () => {
      const fresh = await freshStore(kind, url);
      drop = fresh.drop;
      apps = await Promise.all(
        ADAPTERS.map((adapter) =>
          startProcess(ADAPTER_APP, {
            SK_STORE: kind,
            SK_URL: url,
            SK_NAME: fresh.spec.name,
            SK_SECRET: "round-robin-secret-0123456789abcdef0123456789",
            SK_ADAPTER: adapter,
            SK_MAX_SESSIONS: String(MAX),
            // 200 writers of one session across 4 processes meet in compare-and-set retries.
            SK_RETRY_BUDGET: "30s",
          }),
        ),
      );
      proxy = await startRoundRobinProxy(apps.map((a) => a.port));
    }, 120_000);

    afterAll(async () => {
      await proxy?.close();
      await Promise.all(apps.map(stopProcess));
      await drop?.();
    });

    it("a session created through one process works through all four", async () => {
      const login = await call(proxy.url, "POST", "/login?user=alice");
      expect(login.status).toBe(200);
      const cookie = login.cookie as string;
      const reads = await Promise.all(Array.from({ length: 8 }, () => call(proxy.url, "GET", "/get", cookie)));
      expect(new Set(reads.map((r) => r.body.pid)).size).toBe(PROCESSES);
      for (const r of reads) expect(r.body).toMatchObject({ isNew: false, userId: "alice", id: login.body.id });
      const write = await call(proxy.url, "POST", "/set?key=theme&value=dark", cookie);
      expect(write.status).toBe(200);
      for (const app of apps) expect((await call(app.base, "GET", "/get", cookie)).body.data).toEqual({ theme: "dark" });
    });

    it(`a revoke through one process is refused by all four on the very next request (${REVOKE_ROUNDS} rounds)`, async () => {
      let served = 0;
      for (let round = 0; round < REVOKE_ROUNDS; round++) {
        const login = await call(proxy.url, "POST", `/login?user=r${round}`);
        const cookie = login.cookie as string;
        for (const app of apps) expect((await call(app.base, "GET", "/get", cookie)).body.isNew).toBe(false);
        const revoker = apps[round % PROCESSES] as AppProcess;
        expect((await call(revoker.base, "POST", `/revoke?id=${login.body.id}`)).body.revoked).toBe(true);
        const next = await Promise.all(apps.map((app) => call(app.base, "GET", "/get", cookie)));
        served += next.filter((r) => r.body.isNew !== true).length;
      }
      recordFigure({
        section: "multi-process",
        name: `revoke seen by all ${PROCESSES} processes (${kind})`,
        values: { rounds: REVOKE_ROUNDS, "next requests": REVOKE_ROUNDS * PROCESSES, "served after revoke": served },
      });
      expect(served).toBe(0);
    });

    it(`${WRITERS} per-key writes of one session spread over the four processes all survive`, async () => {
      const first = await call(proxy.url, "POST", "/set?key=base&value=0");
      const cookie = first.cookie as string;
      const started = Date.now();
      const replies = await Promise.all(
        Array.from({ length: WRITERS }, (_, i) => call(proxy.url, "POST", `/set?key=k${i}&value=${i}`, cookie)),
      );
      const failed = replies.filter((r) => r.status !== 200);
      const expected: Record<string, number> = { base: 0 };
      for (let i = 0; i < WRITERS; i++) expected[`k${i}`] = i;
      const finals = await Promise.all(apps.map((app) => call(app.base, "GET", "/get", cookie)));
      const seen = (finals[0]?.body.data ?? {}) as Record<string, unknown>;
      const lost = Object.keys(expected).filter((k) => seen[k] === undefined).length;
      recordFigure({
        section: "multi-process",
        name: `${WRITERS} per-key writes over ${PROCESSES} processes (${kind})`,
        values: { requests: WRITERS, errors: failed.length, "keys lost": lost, seconds: (Date.now() - started) / 1000 },
      });
      expect(failed.slice(0, 3), apps.map((a) => a.stderr()).join("\n")).toEqual([]);
      for (const f of finals) expect(f.body.data).toEqual(expected);
    }, 120_000);

    it(`concurrent logins past maxSessionsPerUser (${MAX}) from the four processes: the limit holds`, async () => {
      let worst = 0;
      for (let round = 0; round < LIMIT_ROUNDS; round++) {
        const user = `limit-${round}`;
        const logins = await Promise.all(
          Array.from({ length: LOGINS }, (_, i) => call((apps[i % PROCESSES] as AppProcess).base, "POST", `/login?user=${user}`)),
        );
        for (const l of logins) expect(l.status).toBe(200);
        const listed = (await call(proxy.url, "GET", `/list?user=${user}`)).body.ids as string[];
        const live = (await Promise.all(logins.map((l) => call(apps[0]?.base as string, "GET", "/get", l.cookie)))).filter(
          (r) => r.body.isNew === false,
        ).length;
        worst = Math.max(worst, listed.length, live);
        expect(listed.length).toBeLessThanOrEqual(MAX);
        expect(live).toBeLessThanOrEqual(MAX);
        expect(live).toBeGreaterThanOrEqual(1);
      }
      recordFigure({
        section: "multi-process",
        name: `logins past maxSessionsPerUser=${MAX} from ${PROCESSES} processes (${kind})`,
        values: { rounds: LIMIT_ROUNDS, logins: LIMIT_ROUNDS * LOGINS, "most live sessions seen": worst, limit: MAX },
      });
    }, 120_000);
  });
}
