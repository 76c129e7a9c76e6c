/**
 * `npm start`'s entry (demo/start.mjs) really starts: it listens, creates the data folder with a
 * secret and the SQLite file, and a second start reuses both (a cookie from the first run still works).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dataDir = mkdtempSync(join(tmpdir(), "sessionkit-start-"));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Runs `node demo/start.mjs` on a free port; resolves with its URL once it prints the listening line. */
function start(): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HOST: "127.0.0.1", SESSIONKIT_DATA_DIR: dataDir };
  delete env.SESSIONKIT_STORE;
  const child = spawn(process.execPath, ["demo/start.mjs"], { cwd: process.cwd(), env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start within 30 s; output:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url && output.includes("Ctrl+C stops it.")) {
        clearTimeout(timer);
        resolve({ child, url, output: () => output });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited with code ${code} before listening; output:\n${output}`));
    });
  });
}

/** SIGTERM, then the exit code (the demo closes its server and store on the signal). */
function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill("SIGTERM");
  });
}

describe("npm start", () => {
  it("serves the demo, keeps its secret and sessions in the data folder, and reuses them on restart", async () => {
    const first = await start();
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.output()).toContain(join(dataDir, "secret"));
    expect(first.output()).toContain("generated now");
    expect(first.output()).toContain(join(dataDir, "sessions.sqlite"));

    const page = await fetch(`${first.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("sessionkit");
    const cookie = page.headers.getSetCookie()[0]?.split(";")[0];
    expect(cookie).toMatch(/^sid=/);

    const secretPath = join(dataDir, "secret");
    expect(existsSync(join(dataDir, "sessions.sqlite"))).toBe(true);
    expect(statSync(secretPath).mode & 0o777).toBe(0o600);
    const secret = readFileSync(secretPath, "utf8");
    expect(await stop(first.child)).toBe(0);

    const second = await start();
    expect(second.output()).toContain("reused");
    expect(readFileSync(secretPath, "utf8")).toBe(secret);
    // Same secret, same database: the first run's session is still there (its second visit).
    const again = await fetch(`${second.url}/`, { headers: { cookie: cookie as string } });
    expect(await again.text()).toMatch(/data-testid="visits">2</);
    expect(await stop(second.child)).toBe(0);
  }, 90_000);
});
