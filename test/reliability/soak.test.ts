/**
 * Soak: mixed traffic (create, read, write, login, logout, revoke, sessions left to expire)
 * against one app process per store, SQLite and PostgreSQL at the same time, with background
 * pruning on and an idle timeout short enough that rows expire and are pruned during the run.
 * Sampled every few seconds from the app process (after a full GC): RSS, heap, active handles
 * and TCP sockets (store connections and the load's keep-alive sockets). Checked: 0 errors;
 * between the first and the last sample under load, heap, RSS and handles flat; p99 of the
 * last window close to the first.
 *
 * Quick: 30 s. Full (SESSIONKIT_LONG=1): 10 minutes (windows of one minute).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { describeWithService } from "../helpers/services.js";
import { ADAPTER_APP, type AppProcess, startProcess, stopProcess } from "../multi-server/processes.js";
import { mb, percentile, recordFigure, scale } from "./figures.js";
import { freshStore, type StoreKind } from "./stores.js";

// SESSIONKIT_SOAK_MS shortens or lengthens a run (the report shows the seconds actually run).
const DURATION_MS = Number(process.env.SESSIONKIT_SOAK_MS ?? scale(30_000, 600_000));
const WINDOW_MS = Math.min(scale(8_000, 60_000), DURATION_MS / 3);
const SAMPLE_MS = scale(2_000, 10_000);
const USERS = scale(8, 16);

interface Sample {
  at: number;
  rss: number;
  heapUsed: number;
  handles: number;
  tcp: number;
}

async function stats(app: AppProcess): Promise<Sample> {
  const s = (await (await fetch(`${app.base}/__stats?gc=1`)).json()) as {
    rss: number;
    heapUsed: number;
    resources: Record<string, number>;
  };
  const handles = Object.values(s.resources).reduce((a, b) => a + b, 0);
  return {
    at: Date.now(),
    rss: s.rss,
    heapUsed: s.heapUsed,
    handles,
    tcp: s.resources.TCPSocketWrap ?? s.resources.TCPWrap ?? 0,
  };
}

/** One virtual user: keeps a session, does a random mix of operations until `until`. */
async function user(
  base: string,
  until: number,
  latencies: Array<[number, number]>,
  errors: string[],
  counts: Record<string, number>,
) {
  let cookie: string | null = null;
  let id: string | null = null;
  let expect = new Map<string, number>();
  const request = async (op: string, method: "GET" | "POST", path: string) => {
    const started = performance.now();
    const res = await fetch(`${base}${path}`, { method, headers: cookie ? { cookie } : {} });
    const body = (await res.json()) as Record<string, unknown>;
    latencies.push([Date.now(), performance.now() - started]);
    counts[op] = (counts[op] ?? 0) + 1;
    if (res.status !== 200) errors.push(`${op} ${res.status} ${JSON.stringify(body)}`);
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(";")[0] as string;
      cookie = /=$/.test(pair) || /Max-Age=0/i.test(line) ? null : pair;
    }
    return body;
  };
  while (Date.now() < until) {
    const roll = Math.random();
    if (cookie === null || roll < 0.05) {
      // A new visitor (the previous session is abandoned: it expires and is pruned).
      cookie = null;
      expect = new Map();
      const body = await request("create", "POST", "/set?key=n&value=0");
      id = body.id as string;
      expect.set("n", 0);
    } else if (roll < 0.5) {
      const body = await request("read", "GET", "/get");
      const data = body.data as Record<string, unknown>;
      if (body.isNew) errors.push("an active session read back as new");
      else for (const [k, v] of expect) if (data[k] !== v) errors.push(`read ${k}=${String(data[k])}, wrote ${v}`);
    } else if (roll < 0.85) {
      const n = Math.floor(Math.random() * 1e6);
      const key = `k${n % 20}`;
      await request("write", "POST", `/set?key=${key}&value=${n}`);
      expect.set(key, n);
    } else if (roll < 0.93) {
      await request("login", "POST", `/login?user=u${Math.floor(Math.random() * 50)}`);
    } else if (roll < 0.97) {
      await request("logout", "POST", "/logout");
      cookie = null;
    } else {
      await request("revoke", "POST", `/revoke?id=${id}`);
      cookie = null;
    }
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
  }
}

interface Target {
  kind: StoreKind;
  app?: AppProcess;
  drop?: () => Promise<void>;
}

async function startTarget(target: Target, url?: string) {
  const fresh = await freshStore(target.kind, url);
  target.drop = fresh.drop;
  target.app = await startProcess(
    ADAPTER_APP,
    {
      SK_STORE: target.kind,
      SK_URL: fresh.spec.url,
      SK_NAME: fresh.spec.name,
      SK_SECRET: "soak-secret-0123456789abcdef0123456789abcdef",
      SK_ADAPTER: target.kind === "sqlite" ? "fastify" : "express",
      SK_IDLE: "3s",
      SK_TOUCH: "1s",
      SK_PRUNE_INTERVAL: "2s",
    },
    60_000,
    ["--expose-gc"],
  );
}

async function runSoak(kind: StoreKind, app: AppProcess) {
  const latencies: Array<[number, number]> = [];
  const errors: string[] = [];
  const counts: Record<string, number> = {};
  // Warm up (JIT, pools) before the first sample.
  await user(app.base, Date.now() + 1000, [], errors, {});
  const started = Date.now();
  const until = started + DURATION_MS;
  const baseline = await stats(app);
  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    void stats(app).then(
      (s) => samples.push(s),
      (e) => errors.push(`stats: ${e}`),
    );
  }, SAMPLE_MS);
  try {
    await Promise.all(Array.from({ length: USERS }, () => user(app.base, until, latencies, errors, counts)));
  } finally {
    clearInterval(sampler);
  }
  // Let the last abandoned sessions expire and the scheduler prune them, then sample idle.
  await new Promise((r) => setTimeout(r, 4000));
  const idle = await stats(app);
  const first = latencies.filter(([at]) => at < started + WINDOW_MS).map(([, ms]) => ms);
  const last = latencies.filter(([at]) => at >= until - WINDOW_MS).map(([, ms]) => ms);
  const start = samples[0] as Sample;
  const end = samples.at(-1) as Sample;
  const max = (f: (s: Sample) => number) => Math.max(...samples.map(f));
  recordFigure({
    section: "soak",
    name: kind,
    values: {
      seconds: DURATION_MS / 1000,
      requests: latencies.length,
      ops: JSON.stringify(counts),
      errors: errors.length,
      "RSS start MB": mb(start.rss),
      "RSS end MB": mb(end.rss),
      "RSS max MB": mb(max((s) => s.rss)),
      "heap start MB": mb(start.heapUsed),
      "heap end MB": mb(end.heapUsed),
      "heap max MB": mb(max((s) => s.heapUsed)),
      "RSS idle after MB": mb(idle.rss),
      "handles before/start/end/max/idle": `${baseline.handles}/${start.handles}/${end.handles}/${max((s) => s.handles)}/${idle.handles}`,
      "TCP sockets before/start/end/max/idle": `${baseline.tcp}/${start.tcp}/${end.tcp}/${max((s) => s.tcp)}/${idle.tcp}`,
      samples: samples.length,
      "p99 first window ms": percentile(first, 99),
      "p99 last window ms": percentile(last, 99),
      "window s": WINDOW_MS / 1000,
    },
  });
  expect(errors.slice(0, 5), kind).toEqual([]);
  // Flat: after a full GC the heap ends within 20 MB of its start, RSS within 60 MB.
  expect(end.heapUsed - start.heapUsed, `${kind} heap growth`).toBeLessThan(20 * 1024 * 1024);
  expect(end.rss - start.rss, `${kind} RSS growth`).toBeLessThan(60 * 1024 * 1024);
  // No growing handle or connection count: the last sample under load holds no more than the
  // first one (a few sockets of slack: a pool may be mid-connect), and idle no more than either.
  // Handles other than sockets (timers of queries in flight) swing by several between samples, so
  // growth is judged by trend: the second half's peak against the first half's, sockets at the
  // end against the start, and what is left once traffic stops against the start under load.
  const half = Math.floor(samples.length / 2);
  const peak = (list: Sample[]) => Math.max(...list.map((s) => s.handles));
  expect(peak(samples.slice(half)), `${kind} handles trend`).toBeLessThanOrEqual(peak(samples.slice(0, half)) + 6);
  expect(end.tcp, `${kind} TCP sockets`).toBeLessThanOrEqual(start.tcp + 2);
  expect(idle.handles, `${kind} idle handles`).toBeLessThanOrEqual(start.handles + 2);
  // Stable: on a shared machine, allow 3x (or +50 ms) between the first and the last window.
  expect(percentile(last, 99), `${kind} p99`).toBeLessThanOrEqual(
    Math.max(3 * percentile(first, 99), percentile(first, 99) + 50),
  );
}

const pg = describeWithService("postgres");

describe("soak: mixed traffic on SQLite and PostgreSQL at once, background pruning, rows expiring", () => {
  const targets: Target[] = [{ kind: "sqlite" }];
  if (inject("services").find((s) => s.name === "postgres")?.reachable) targets.push({ kind: "postgres" });

  beforeAll(async () => {
    await Promise.all(targets.map((t) => startTarget(t, t.kind === "postgres" ? pg.url : undefined)));
  }, 90_000);
  afterAll(async () => {
    for (const t of targets) {
      await stopProcess(t.app);
      await t.drop?.();
    }
  });

  it(
    `${DURATION_MS / 1000} s: 0 errors, memory and handles flat, p99 stable`,
    async () => {
      const results = await Promise.allSettled(targets.map((t) => runSoak(t.kind, t.app as AppProcess)));
      for (const r of results) if (r.status === "rejected") throw r.reason;
    },
    DURATION_MS + 120_000,
  );
});
