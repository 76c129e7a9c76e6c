/**
 * The near-cache across processes: four app servers (near-cache-server.ts) with
 * `cache: { ttl: "1h" }` on one Redis or one PostgreSQL, each subscribed to the invalidation
 * channel through a TCP proxy the test can cut. A revoke through one server is refused by all
 * four on their very next request: with the channel up (the message reached them), and with
 * the channel cut and reconnecting (their caches emptied and are bypassed).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { postgresStore } from "../../src/stores/postgres.js";
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

function runNearCache(kind: "redis" | "postgres") {
  const { url, describe } = describeWithService(kind);

  describe(`near-cache across four processes on ${kind} (${url})`, () => {
    const name = uniqueName(`sk_nc_${kind.slice(0, 2)}`);
    const apps: App[] = [];
    let proxy: TcpProxy;

    beforeAll(async () => {
      const target = new URL(url);
      proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || (kind === "redis" ? 6379 : 5432)) });
      if (kind === "postgres") {
        const store = postgresStore({ connectionString: url, table: name });
        await store.migrate();
        await store.close();
      }
      const env = { SK_STORE: kind, SK_URL: url, SK_CHANNEL_URL: proxy.urlFor(url), SK_NAME: name, SK_SECRET: SECRET };
      apps.push(...(await Promise.all([0, 1, 2, 3].map(() => startApp(env)))));
      await waitFor(async () => (await Promise.all(apps.map(cacheState))).every((s) => s.up), "every channel up");
    }, 120_000);

    afterAll(async () => {
      await Promise.all(apps.map(stopApp));
      await proxy?.close();
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

    it("also while the channel is cut and reconnecting; caching resumes once it is back", async () => {
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
    });
  });
}

runNearCache("redis");
runNearCache("postgres");
