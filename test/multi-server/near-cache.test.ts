/**
 * The near-cache across processes: four app servers (near-cache-server.ts) with
 * `cache: { ttl: "1h" }` on one Redis or one PostgreSQL, each subscribed to the invalidation
 * channel through a TCP proxy the test can cut. A revoke through one server is refused by all
 * four on their very next request: with the channel up (the message reached them), and with
 * the channel cut and reconnecting (their caches emptied and are bypassed). So is a write (the
 * update publishes inside its own statement or script). On a Redis Cluster of three masters
 * too, where the processes' subscriptions must all sit on one node (slot-subscriber.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, expect, it, describe as plainDescribe } from "vitest";
import { postgresStore } from "../../src/stores/postgres.js";
import { type RedisCluster, startRedisCluster } from "../helpers/redis-cluster.js";
import { redisBinariesMissing } from "../helpers/redis-server.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

const APP = fileURLToPath(new URL("./near-cache-server.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SECRET = "near-cache-multi-server-secret-0123456789abcdef";

interface App {
  base: string;
  child: ChildProcess;
}

async function startApp(env: Record<string, string>): Promise<App> {
  const child = spawn(process.execPath, ["--import", "tsx", APP], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app server did not start in 60 s:\n${stderr}`)), 60_000);
    lines.on("line", (line) => {
      const match = /"port":(\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`app server exited with ${code}:\n${stderr}`));
    });
  });
  return { base: `http://127.0.0.1:${port}`, child };
}

async function stopApp(app: App) {
  if (app.child.exitCode !== null) return;
  const exited = once(app.child, "exit");
  app.child.kill("SIGTERM");
  await exited;
}

async function call(app: App, method: "GET" | "POST", path: string, cookie?: string) {
  const res = await fetch(`${app.base}${path}`, { method, headers: cookie ? { cookie } : {} });
  const setCookie = res.headers.get("set-cookie");
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return { cookie: setCookie ? (setCookie.split(";")[0] as string) : null, body };
}

const cacheState = async (app: App) =>
  (await call(app, "GET", "/cache")).body as { up: boolean; loads: number; fromStore: number };

async function waitFor(check: () => Promise<boolean>, what: string, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

type Kind = "redis" | "postgres" | "redis-cluster";

/** Where the apps' store is, and how to reach it; a Cluster is started for the file. */
function target(kind: Kind) {
  if (kind !== "redis-cluster") return describeWithService(kind);
  const missing = redisBinariesMissing();
  if (missing && (process.env.CI === "true" || process.env.CI === "1")) {
    throw new Error(`redis cluster near-cache suite: ${missing}; under CI this is a failure`);
  }
  if (missing) console.warn(`\n${"!".repeat(78)}\n  SKIPPING redis cluster near-cache suite: ${missing}\n${"!".repeat(78)}\n`);
  return { url: "a Redis Cluster of 3 masters", describe: plainDescribe.skipIf(missing !== null) };
}

function runNearCache(kind: Kind) {
  const { url, describe } = target(kind);

  describe(`near-cache across four processes on ${kind} (${url})`, () => {
    const name = uniqueName(`sk_nc_${kind === "redis-cluster" ? "rc" : kind.slice(0, 2)}`);
    const apps: App[] = [];
    let proxy: TcpProxy | undefined;
    let cluster: RedisCluster | undefined;

    beforeAll(async () => {
      let env: Record<string, string>;
      if (kind === "redis-cluster") {
        cluster = await startRedisCluster(3);
        env = { SK_STORE: kind, SK_URL: JSON.stringify(cluster.nodes), SK_NAME: name, SK_SECRET: SECRET };
      } else {
        const parsed = new URL(url);
        proxy = await startTcpProxy({ host: parsed.hostname, port: Number(parsed.port || (kind === "redis" ? 6379 : 5432)) });
        if (kind === "postgres") {
          const store = postgresStore({ connectionString: url, table: name });
          await store.migrate();
          await store.close();
        }
        env = { SK_STORE: kind, SK_URL: url, SK_CHANNEL_URL: proxy.urlFor(url), SK_NAME: name, SK_SECRET: SECRET };
      }
      apps.push(...(await Promise.all([0, 1, 2, 3].map(() => startApp(env)))));
      await waitFor(async () => (await Promise.all(apps.map(cacheState))).every((s) => s.up), "every channel up");
    }, 120_000);

    afterAll(async () => {
      await Promise.all(apps.map(stopApp));
      await proxy?.close();
      await cluster?.stop();
      if (kind === "postgres") {
        const pool = new pg.Pool({ connectionString: url, max: 1 });
        await pool.query(`DROP TABLE IF EXISTS "${name}"`);
        await pool.end();
      }
    });

    /** Signs in through app 0 and reads through every app twice, so each has it cached. */
    async function cachedEverywhere(user: string) {
      const login = await call(apps[0] as App, "POST", `/login?user=${user}`);
      const cookie = login.cookie as string;
      for (const app of apps) {
        await call(app, "GET", "/get", cookie);
        const before = (await cacheState(app)).fromStore;
        const again = await call(app, "GET", "/get", cookie);
        expect(again.body.userId).toBe(user);
        expect((await cacheState(app)).fromStore).toBe(before); // a hit: no store read
      }
      return { cookie, id: login.body.id as string };
    }

    it("a revoke through one process is refused by all four on their very next request", async () => {
      const { cookie, id } = await cachedEverywhere("alice");
      expect((await call(apps[1] as App, "POST", `/revoke?id=${id}`)).body.revoked).toBe(true);
      for (const app of apps) expect((await call(app, "GET", "/get", cookie)).body.isNew).toBe(true);
    });

    it("a write through one process is seen by all four on their very next request", async () => {
      const { cookie } = await cachedEverywhere("erin");
      for (let round = 0; round < 8; round++) {
        const writer = apps[round % apps.length] as App;
        expect((await call(writer, "POST", `/set?v=r${round}`, cookie)).body.v).toBe(`r${round}`);
        for (const app of apps) expect((await call(app, "GET", "/get", cookie)).body.v).toBe(`r${round}`);
      }
    });

    it.skipIf(kind === "redis-cluster")(
      "also while the channel is cut and reconnecting; caching resumes once it is back",
      async () => {
        if (!proxy) throw new Error("no proxy");
        const { cookie, id } = await cachedEverywhere("bob");
        proxy.cut(); // every subscriber connection drops; the revoke's message reaches nobody
        expect((await call(apps[2] as App, "POST", `/revoke?id=${id}`)).body.revoked).toBe(true);
        for (const app of apps) expect((await call(app, "GET", "/get", cookie)).body.isNew).toBe(true);

        // Down: reads go to the store and nothing is cached meanwhile.
        const carol = (await call(apps[0] as App, "POST", "/login?user=carol")).cookie as string;
        for (const app of apps) {
          const before = (await cacheState(app)).fromStore;
          await call(app, "GET", "/get", carol);
          await call(app, "GET", "/get", carol);
          expect((await cacheState(app)).fromStore).toBe(before + 2);
        }

        proxy.restore();
        await waitFor(async () => (await Promise.all(apps.map(cacheState))).every((s) => s.up), "every channel back up");
        const again = await cachedEverywhere("dave");
        expect((await call(apps[3] as App, "POST", `/revoke?id=${again.id}`)).body.revoked).toBe(true);
        for (const app of apps) expect((await call(app, "GET", "/get", again.cookie)).body.isNew).toBe(true);
      },
    );
  });
}

runNearCache("redis");
runNearCache("postgres");
runNearCache("redis-cluster");
