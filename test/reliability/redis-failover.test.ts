/**
 * A Redis failover (a replica promoted by Sentinel) in the middle of a load run, on the
 * client docs/redis.md recommends for Sentinel (`sentinelClientOptions` below). The test
 * starts its own master, replica (`--replicaof`) and Sentinel (quorum 1, 1 s down-after) on
 * free loopback ports (test/helpers/redis-sentinel.ts). Virtual users each keep a session
 * and read and write it through an HTTP adapter without pause; now and then one starts a new
 * session. Midway the replica takes over:
 *
 *   - crash: the master is killed with SIGKILL; Sentinel notices and promotes the replica.
 *     Replication is asynchronous, so writes (and new sessions) the master acknowledged in
 *     its last moment may never have reached the replica: they are counted ("writes lost",
 *     "sessions lost"), and each lost write must have been acknowledged less than a second
 *     before the kill.
 *   - switchover: the coordinated way. Writes on the master are paused (CLIENT PAUSE WRITE),
 *     the replica catches up, SENTINEL FAILOVER promotes it, the old master is made a replica
 *     of it (Sentinel's own reconfiguration: REPLICAOF, then its clients are disconnected),
 *     and writes are unpaused. Nothing may be lost.
 *
 * Checked for every request, as in outage.test.ts: a failure is a clean 500 carrying a
 * SessionStoreError; a 200 read is never a fresh session and holds what the user last
 * committed (except, after the crash only, what the crash lost: counted, not hidden). After
 * the failover the same app and the same client serve again by themselves: no failure among
 * the requests started once the first write went through on the new master.
 *
 * A last case checks the near-cache: after a crash failover, a revoke through one instance
 * still invalidates another instance's cache (its subscription followed the new master).
 *
 * Quick: 10 users, about 8 s per run. Full (SESSIONKIT_LONG=1): 40 users, longer phases.
 */
import { Redis, type RedisOptions } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createSessions, type SessionStore } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis.js";
import { redisCli, redisInfo, type SentinelGroup, startSentinelGroup } from "../helpers/redis-sentinel.js";
import { redisBinariesMissing } from "../helpers/redis-server.js";
import { type AdapterKind, startApp, userRequest } from "./apps.js";
import { recordFigure, scale } from "./figures.js";

const USERS = scale(10, 40);
const BEFORE_MS = scale(1500, 5000);
const AFTER_MS = scale(2500, 10_000);
/** Chance that an operation starts a new session instead (sessions created around the failover). */
const NEW_SESSION_RATE = 0.03;
const SECRET = "failover-secret-0123456789abcdef0123456789abcd";

/**
 * The ioredis options docs/redis.md recommends behind Sentinel (keep the two in step): fail
 * fast while disconnected (as for a standalone server), and reconnect (through Sentinel, to
 * the new master) when a demoted master answers READONLY. Not `failoverDetector`: in ioredis
 * 5.11 a +switch-master that arrives while the client is reconnecting ends the client for
 * good (status "end", every command "Connection is closed."), which this test ran into.
 */
export const sentinelClientOptions = (sentinels: Array<{ host: string; port: number }>, name: string): RedisOptions => ({
  sentinels,
  name,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  reconnectOnError: (error) => (error.message.includes("READONLY") ? 2 : false),
  // Test timings: retry quickly; the defaults (up to 2 s, 1 s for Sentinels) only slow the test.
  retryStrategy: () => 100,
  sentinelRetryStrategy: () => 100,
  connectTimeout: 2000,
});

function sentinelClient(group: SentinelGroup): Redis {
  const client = new Redis(sentinelClientOptions(group.sentinels, group.name));
  client.on("error", () => {}); // reconnect noise during the failover; requests report their own errors
  return client;
}

async function ready(client: Redis) {
  const deadline = Date.now() + 15_000;
  while (client.status !== "ready") {
    if (Date.now() > deadline) throw new Error(`redis client not ready after 15 s (${client.status})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cookieOf = (res: Response) => res.headers.getSetCookie()[0]?.split(";")[0];

interface Result {
  /** When the request started. */
  at: number;
  /** When its answer (or failure) came. */
  done: number;
  ok: boolean;
  write: boolean;
  problem?: string;
}

/** One session the test created, with what it knows the store must hold for it. */
interface Tracked {
  id: string;
  cookie: string;
  committed: number;
  /** Acknowledged writes still expected in the store: value -> time of the acknowledgement. */
  acked: Map<number, number>;
  /** Writes that failed at the client: they may or may not have reached the store. */
  uncertain: Set<number>;
  createdAt: number;
  lost: boolean;
}

interface Failover {
  /** Starts the failover; the clock of "seconds to recover" starts when it is called. */
  begin(): Promise<void>;
  /** Resolves once the failover is complete from the servers' side (the Sentinel reports the new master, ...). */
  complete(): Promise<void>;
  /** Whether acknowledged writes may be lost (the crash); a switchover must lose none. */
  mayLose: boolean;
}

async function runFailover(label: string, adapter: AdapterKind, group: SentinelGroup, failover: Failover) {
  const client = sentinelClient(group);
  await ready(client);
  const prefix = `sk_failover_${process.pid}_${Date.now().toString(36)}`;
  const store = redisStore({ client, prefix });
  const sessions = createSessions<Record<string, unknown>>({
    store,
    secrets: [SECRET],
    cookie: { secure: false },
    touchInterval: "1s",
  });
  const app = await startApp(adapter, sessions);

  const tracked: Tracked[] = [];
  const results: Result[] = [];
  let trigger = Number.POSITIVE_INFINITY;
  let nextValue = 1;
  let stop = false;
  let writesLost = 0;
  let sessionsLost = 0;
  const lateLosses: string[] = [];

  /** A session found gone or rolled back: counted as lost after the crash, a bug anywhere else. */
  const lose = (s: Tracked, at: number, what: "session" | number): string | undefined => {
    if (!failover.mayLose || at < trigger) {
      return what === "session"
        ? "fresh session handed out in place of the real one"
        : `read n=${what}, committed ${s.committed}`;
    }
    if (what === "session") {
      s.lost = true;
      sessionsLost++;
      if (trigger - s.createdAt > 1000) lateLosses.push(`session created ${trigger - s.createdAt} ms before the kill`);
      return undefined;
    }
    for (const [value, ackedAt] of [...s.acked]) {
      if (value <= what) continue;
      writesLost++;
      if (trigger - ackedAt > 1000) lateLosses.push(`write acknowledged ${trigger - ackedAt} ms before the kill`);
      s.acked.delete(value);
    }
    s.committed = what;
    s.uncertain.clear();
    return undefined;
  };

  /** Reads `s` and checks it against what was committed; returns a problem, if any. */
  const checkRead = (s: Tracked, at: number, body: Record<string, unknown>): string | undefined => {
    if (body.isNew) return lose(s, at, "session");
    const n = (body.data as Record<string, unknown> | undefined)?.n as number;
    if (n === s.committed) return undefined;
    if (s.uncertain.has(n)) {
      // A write that failed at the client did reach the store: it is the value now.
      s.committed = n;
      s.uncertain.clear();
      return undefined;
    }
    if (typeof n === "number" && n < s.committed) return lose(s, at, n);
    return `read n=${n}, committed ${s.committed}`;
  };

  const create = async (): Promise<Tracked | null> => {
    const value = nextValue++;
    const at = Date.now();
    try {
      const res = await fetch(`${app.url}/set?key=n&value=${value}`, { method: "POST", signal: AbortSignal.timeout(15_000) });
      const body = (await res.json()) as Record<string, unknown>;
      const cookie = cookieOf(res);
      if (res.status === 200 && cookie) {
        const now = Date.now();
        const s: Tracked = {
          id: body.id as string,
          cookie,
          committed: value,
          acked: new Map([[value, now]]),
          uncertain: new Set(),
          createdAt: now,
          lost: false,
        };
        tracked.push(s);
        results.push({ at, done: Date.now(), ok: true, write: true });
        return s;
      }
      const clean = res.status >= 500 && body.storeError === true;
      results.push({
        at,
        done: Date.now(),
        ok: false,
        write: true,
        problem: clean ? undefined : `unclean ${res.status} ${JSON.stringify(body)}`,
      });
    } catch (error) {
      results.push({ at, done: Date.now(), ok: false, write: true, problem: `transport: ${(error as Error).message}` });
    }
    return null;
  };

  const loop = async (first: Tracked) => {
    let s: Tracked | null = first;
    while (!stop) {
      if (s === null || s.lost || Math.random() < NEW_SESSION_RATE) {
        s = (await create()) ?? s;
        if (s?.lost) s = null;
        await sleep(Math.random() * 5);
        continue;
      }
      const write = Math.random() < 0.5;
      const value = nextValue++;
      const at = Date.now();
      const answer = await userRequest(app.url, s.cookie, write, value);
      if ("transportError" in answer) {
        results.push({ at, done: Date.now(), ok: false, write, problem: `transport: ${answer.transportError}` });
        continue;
      }
      const { status, body } = answer;
      if (status === 200 && write) {
        if (body.id !== s.id) {
          // The session was gone: the engine started a fresh one and set this value in it.
          const problem = lose(s, at, "session");
          results.push({ at, done: Date.now(), ok: problem === undefined, write, problem });
          s = null;
          continue;
        }
        s.committed = value;
        s.uncertain.clear();
        s.acked.set(value, Date.now());
        results.push({ at, done: Date.now(), ok: true, write });
      } else if (status === 200) {
        const problem = checkRead(s, at, body);
        results.push({ at, done: Date.now(), ok: problem === undefined, write, problem });
      } else {
        if (write) s.uncertain.add(value);
        const clean = status >= 500 && body.storeError === true;
        results.push({
          at,
          done: Date.now(),
          ok: false,
          write,
          problem: clean ? undefined : `unclean ${status} ${JSON.stringify(body)}`,
        });
      }
      await sleep(Math.random() * 5);
    }
  };

  const firsts: Tracked[] = [];
  for (let u = 0; u < USERS; u++) {
    const s = await create();
    expect(s).not.toBeNull();
    firsts.push(s as Tracked);
  }
  const started = Date.now();
  const running = Promise.all(firsts.map(loop));
  let completedAt = Number.NaN;
  try {
    await sleep(BEFORE_MS);
    trigger = Date.now();
    await failover.begin();
    await failover.complete();
    completedAt = Date.now();
    await sleep(AFTER_MS);
  } finally {
    stop = true;
    await running;
  }

  // Every session the test created reads back its last committed write, or is counted lost.
  const endProblems: string[] = [];
  for (let i = 0; i < tracked.length; i += 20) {
    await Promise.all(
      tracked.slice(i, i + 20).map(async (s) => {
        if (s.lost) return;
        const res = await fetch(`${app.url}/get`, { headers: { cookie: s.cookie } });
        const body = (await res.json()) as Record<string, unknown>;
        const problem = res.status === 200 ? checkRead(s, Date.now(), body) : `end read: HTTP ${res.status}`;
        if (problem) endProblems.push(problem);
      }),
    );
  }

  await app.close();
  await sessions.close();
  client.disconnect();

  // Recovery: the first write that went through after the failover began, and the first
  // moment after which every request succeeded. When requests fail (a crash), the failover
  // has surely begun once the first failure came back: a write started after the trigger but
  // answered before SIGKILL landed went through the old master, not through the failover.
  const after = results.filter((r) => r.at >= trigger);
  const firstFailureDone = after.reduce((m, r) => (r.ok ? m : Math.min(m, r.done)), Number.POSITIVE_INFINITY);
  const failoverFrom = Number.isFinite(firstFailureDone) ? firstFailureDone : trigger;
  const recoveredAt = after.find((r) => r.ok && r.write && r.at > failoverFrom)?.at ?? Number.NaN;
  const errorsAfterRecovery = after.filter((r) => r.at > recoveredAt && !r.ok);
  const lastFailure = after.filter((r) => !r.ok).reduce((m, r) => Math.max(m, r.at), trigger);
  const firstSuccessAfter = after.find((r) => r.ok && r.at >= lastFailure)?.at ?? Number.NaN;
  const recoverSeconds = (firstSuccessAfter - trigger) / 1000;
  const unclean = results.filter((r) => r.problem !== undefined);
  const failedDuring = after.filter((r) => !r.ok && !(r.at > recoveredAt)).length;

  const figures = {
    requests: results.length,
    "sessions created": tracked.length,
    "failed during failover": failedDuring,
    "unclean failures": unclean.length,
    "errors after recovery": errorsAfterRecovery.length,
    "sessions lost": sessionsLost,
    "writes lost": writesLost,
    "seconds to promote": Math.round((completedAt - trigger) / 10) / 100,
    "seconds to recover": Math.round(recoverSeconds * 100) / 100,
    "run seconds": (Date.now() - started) / 1000,
  };
  recordFigure({ section: "failover", name: `redis ${label} (${adapter})`, values: figures });
  expect(unclean.slice(0, 5).map((r) => r.problem)).toEqual([]);
  expect(endProblems.slice(0, 5)).toEqual([]);
  expect(errorsAfterRecovery.slice(0, 5)).toEqual([]);
  expect(Number.isFinite(recoveredAt)).toBe(true); // recovered by itself, same app, same client
  expect(recoverSeconds).toBeLessThan(15);
  if (failover.mayLose) expect(lateLosses.slice(0, 5)).toEqual([]);
  else {
    expect(sessionsLost).toBe(0);
    expect(writesLost).toBe(0);
  }
  return figures;
}

const missing = redisBinariesMissing();
if (missing) {
  const line = `SKIPPING redis failover suite: ${missing}`;
  if (process.env.CI === "true" || process.env.CI === "1") throw new Error(`${line}; under CI this is a failure`);
  console.warn(`\n${"!".repeat(78)}\n  ${line}\n${"!".repeat(78)}\n`);
}

describe.skipIf(missing !== null)("redis failover under load (own master, replica and Sentinel)", () => {
  let group: SentinelGroup | undefined;
  afterEach(async () => {
    await group?.stop();
    group = undefined;
  });

  it(`crash: master killed (SIGKILL), Sentinel promotes the replica; ${USERS} users; clean 5xx, losses counted, recovers by itself`, async () => {
    group = await startSentinelGroup();
    const g = group;
    const [master, replica] = g.servers;
    const figures = await runFailover("crash (SIGKILL, Sentinel promotes)", "express", g, {
      mayLose: true,
      begin: () => master.kill(),
      complete: () => g.waitForMaster(replica.port),
    });
    expect(figures["failed during failover"]).toBeGreaterThan(0); // the failover was real
  }, 120_000);

  it(`switchover: writes paused, replica caught up, SENTINEL FAILOVER; ${USERS} users; nothing lost, recovers by itself`, async () => {
    // A longer down-after than the crash case: a switchover needs no failure detection, and on
    // a busy machine 1 s once made the fresh master look down, failing over a second time.
    group = await startSentinelGroup({ downAfterMs: 5000 });
    const g = group;
    const [master, replica] = g.servers;
    let unpaused = false;
    let pauseMs = 0;
    const PAUSE_LIMIT_MS = 20_000;
    await runFailover("switchover (CLIENT PAUSE WRITE + SENTINEL FAILOVER)", "fastify", g, {
      mayLose: false,
      async begin() {
        const pausedAt = Date.now();
        // Long enough to cover the whole switch; lifted by hand below as soon as the old master is a replica.
        await redisCli(master.port, "client", "pause", String(PAUSE_LIMIT_MS), "write");
        await g.waitForReplica(master.port, replica.port, 10_000);
        const deadline = Date.now() + 15_000;
        for (;;) {
          const reply = await redisCli(g.sentinel.port, "sentinel", "failover", g.name);
          // INPROG: the Sentinel started one itself (the pause also holds its hello PUBLISH, so the master may look down).
          if (reply === "OK" || reply.includes("INPROG")) break;
          if (Date.now() > deadline) throw new Error(`SENTINEL FAILOVER kept answering ${reply}`);
          await sleep(200);
        }
        await g.waitForMaster(replica.port, 15_000);
        // Demote the old master as Sentinel does when it reconfigures an instance: REPLICAOF
        // the new master, then disconnect its clients so they ask Sentinel again. Only then
        // lift the pause: a write held by it now meets a replica (READONLY), never a second master.
        const admin = new Redis({ host: "127.0.0.1", port: master.port, maxRetriesPerRequest: 1 });
        admin.on("error", () => {});
        try {
          await admin
            .multi()
            .replicaof("127.0.0.1", replica.port)
            .client("KILL", "TYPE", "normal")
            .client("KILL", "TYPE", "pubsub")
            .exec();
          pauseMs = Date.now() - pausedAt;
          await admin.client("UNPAUSE");
          unpaused = true;
        } finally {
          admin.disconnect();
        }
      },
      async complete() {
        await g.waitForReplica(replica.port, master.port, 15_000, { linkOnly: true });
      },
    });
    expect(unpaused).toBe(true);
    expect(pauseMs).toBeLessThan(PAUSE_LIMIT_MS); // the pause held until the old master was a replica
    const role = await redisInfo(master.port);
    expect(role.role, g.sentinel.log()).toBe("slave");
    expect(await g.masterPort()).toBe(replica.port);
  }, 120_000);

  it("near-cache: after a crash failover, a revoke through one instance still invalidates another instance's cache", async () => {
    group = await startSentinelGroup();
    const g = group;
    const [master, replica] = g.servers;
    const prefix = `sk_failover_cache_${process.pid}_${Date.now().toString(36)}`;
    const clients = [sentinelClient(g), sentinelClient(g)];
    await Promise.all(clients.map(ready));
    let storeReadsB = 0;
    const instance = (client: Redis, count: boolean) => {
      const base = redisStore({ client, prefix });
      const store: SessionStore = count
        ? (Object.create(base, {
            get: {
              value: (...args: Parameters<SessionStore["get"]>) => {
                storeReadsB++;
                return base.get(...args);
              },
            },
          }) as SessionStore)
        : base;
      return createSessions<Record<string, unknown>>({
        store,
        secrets: [SECRET],
        cookie: { secure: false },
        cache: { ttl: "1h" },
      });
    };
    const a = instance(clients[0] as Redis, false);
    const b = instance(clients[1] as Redis, true);
    // A failed invalidation publish is reported here (the revoke itself still succeeds).
    const publishErrors: string[] = [];
    a.on("error", (event) => publishErrors.push(`${event.operation}: ${String(event.error)}`));
    const appA = await startApp("hono", a);
    const appB = await startApp("koa", b);
    try {
      const login = async () => {
        const res = await fetch(`${appA.url}/login?user=alice`, { method: "POST" });
        if (res.status !== 200) throw new Error(`login: HTTP ${res.status} ${await res.text()}`);
        return { cookie: cookieOf(res) as string, id: ((await res.json()) as { id: string }).id };
      };
      const readB = async (cookie: string) => {
        const res = await fetch(`${appB.url}/get`, { headers: { cookie } });
        return { status: res.status, body: (await res.json()) as { isNew: boolean; userId: string | null } };
      };
      /** Reads through B until a read is a cache hit (no store read): B's subscription is up. */
      const cachedInB = async (cookie: string) => {
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          const before = storeReadsB;
          const r = await readB(cookie);
          if (r.status === 200 && r.body.userId === "alice" && storeReadsB === before) return;
          await sleep(50);
        }
        throw new Error("instance B never served the session from its cache");
      };
      const revokedEverywhere = async (s: { cookie: string; id: string }) => {
        const res = await fetch(`${appA.url}/revoke?id=${s.id}`, { method: "POST" });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { revoked: boolean }).revoked).toBe(true);
        const r = await readB(s.cookie);
        expect(r.status).toBe(200);
        expect(r.body.userId, `B served a revoked session; publish errors: ${JSON.stringify(publishErrors)}`).toBeNull();
      };

      // Before: a revoke through A reaches B's cache.
      const s1 = await login();
      await cachedInB(s1.cookie);
      await revokedEverywhere(s1);

      // A session cached in B across the failover.
      const s2 = await login();
      await cachedInB(s2.cookie);
      await g.waitForReplica(master.port, replica.port, 10_000);
      await master.kill();
      await g.waitForMaster(replica.port);

      // After: once B's subscription is back (B serves from its cache again), revokes through A reach it.
      let s3: { cookie: string; id: string } | null = null;
      for (let attempt = 0; attempt < 100 && s3 === null; attempt++) {
        s3 = await login().catch(() => sleep(100).then(() => null));
      }
      if (s3 === null) throw new Error("no login through A within 100 attempts after the failover");
      await cachedInB(s3.cookie);
      await revokedEverywhere(s3);
      await cachedInB(s2.cookie);
      await revokedEverywhere(s2);
    } finally {
      await appA.close();
      await appB.close();
      await a.close();
      await b.close();
      for (const c of clients) c.disconnect();
    }
  }, 120_000);
});
