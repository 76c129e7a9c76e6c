/**
 * Several app servers sharing one database: two child processes, each its own node:http app
 * with its own pool, on the same table. A session created through one is read through the
 * other, a revoke through one is seen at once by the other, and concurrent writes to
 * different keys through both survive. Run for every SQL server store.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { type SqlBackend, sqlBackends } from "./sql-stores.js";

const APP = fileURLToPath(new URL("./app-server.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface AppServer {
  base: string;
  child: ChildProcess;
}

/** Starts one app server process and waits for the port it prints. */
async function startApp(env: Record<string, string>): Promise<AppServer> {
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
    const timer = setTimeout(() => reject(new Error(`app server did not start in 30 s:\n${stderr}`)), 30_000);
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

async function stopApp(app: AppServer | undefined) {
  if (!app || app.child.exitCode !== null) return;
  const exited = once(app.child, "exit");
  app.child.kill("SIGTERM");
  await exited;
}

interface Reply {
  status: number;
  cookie: string | null;
  body: { id: string; isNew: boolean; userId: string | null; data: Record<string, unknown>; revoked?: boolean };
}

async function call(app: AppServer, method: "GET" | "POST", path: string, cookie?: string): Promise<Reply> {
  const res = await fetch(`${app.base}${path}`, { method, headers: cookie ? { cookie } : {} });
  const setCookie = res.headers.get("set-cookie");
  return { status: res.status, cookie: setCookie ? (setCookie.split(";")[0] as string) : null, body: await res.json() };
}

function runMultiServer(backend: SqlBackend) {
  const { url, describe } = describeWithService(backend.kind);

  describe(`two app servers sharing one ${backend.kind} database (${url})`, () => {
    const table = uniqueName(`sk_multi_${backend.kind.slice(0, 2)}`);
    let a: AppServer | undefined;
    let b: AppServer | undefined;

    beforeAll(async () => {
      const store = backend.store(url, table);
      await store.migrate();
      await store.close();
      const env = { SK_STORE: backend.kind, SK_URL: url, SK_TABLE: table, SK_SECRET: "multi-server-secret-0123456789abcdef0123" };
      [a, b] = await Promise.all([startApp(env), startApp(env)]);
    }, 60_000);

    afterAll(async () => {
      await Promise.all([stopApp(a), stopApp(b)]);
      const admin = backend.admin(url);
      await admin.dropTable(table);
      await admin.end();
    });

    it("a session created through one server is read, changed and revoked through the other", async () => {
      const one = a as AppServer;
      const two = b as AppServer;
      expect(one.child.pid).not.toBe(two.child.pid);

      const login = await call(one, "POST", "/login?user=alice");
      expect(login.status).toBe(200);
      const cookie = login.cookie as string;
      expect(cookie).toMatch(/=/);

      const read = await call(two, "GET", "/get", cookie);
      expect(read.body).toMatchObject({ id: login.body.id, isNew: false, userId: "alice", data: { who: "alice" } });

      const changed = await call(two, "POST", "/set?key=theme&value=dark", cookie);
      expect(changed.status).toBe(200);
      expect((await call(one, "GET", "/get", cookie)).body.data).toEqual({ who: "alice", theme: "dark" });

      const listed = (await (await fetch(`${one.base}/list?user=alice`)).json()) as string[];
      expect(listed).toEqual([login.body.id]);

      const revoked = await call(two, "POST", `/revoke?id=${login.body.id}`);
      expect(revoked.body.revoked).toBe(true);
      const after = await call(one, "GET", "/get", cookie);
      expect(after.body.isNew).toBe(true);
      expect(after.body.data).toEqual({});
      // Writing through the revoked cookie starts a new session; the old one stays gone.
      const late = await call(one, "POST", "/set?key=x&value=1", cookie);
      expect(late.body.id).not.toBe(login.body.id);
      expect((await call(two, "GET", "/get", cookie)).body.isNew).toBe(true);
    });

    it("concurrent writes to different keys through both servers all survive", async () => {
      const one = a as AppServer;
      const two = b as AppServer;
      const start = await call(two, "POST", "/set?key=base&value=0");
      const cookie = start.cookie as string;
      // 8 writers: each compare-and-set loses at most 7 times, under the engine's 8 retries.
      const writes = await Promise.all(
        Array.from({ length: 8 }, (_, i) => call(i % 2 === 0 ? one : two, "POST", `/set?key=k${i}&value=v${i}`, cookie)),
      );
      for (const w of writes) expect(w.status).toBe(200);
      const expected: Record<string, string> = { base: "0" };
      for (let i = 0; i < 8; i++) expected[`k${i}`] = `v${i}`;
      expect((await call(one, "GET", "/get", cookie)).body.data).toEqual(expected);
      expect((await call(two, "GET", "/get", cookie)).body.data).toEqual(expected);
    });

    it("sessions created concurrently through both servers are all readable through either", async () => {
      const one = a as AppServer;
      const two = b as AppServer;
      const created = await Promise.all(
        Array.from({ length: 10 }, (_, i) => call(i % 2 === 0 ? one : two, "POST", `/set?key=n&value=${i}`)),
      );
      for (const [i, c] of created.entries()) {
        const other = i % 2 === 0 ? two : one;
        expect((await call(other, "GET", "/get", c.cookie as string)).body.data).toEqual({ n: String(i) });
      }
    });
  });
}

for (const backend of Object.values(sqlBackends)) runMultiServer(backend);
