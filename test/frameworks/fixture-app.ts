/**
 * Builds and serves the fixture apps under test/fixtures/ the way their users do (the
 * framework's own build, then its production server on 127.0.0.1), importing the BUILT package:
 * `test/fixtures/node_modules/sessionkit` links to the repository root, so "sessionkit/next"
 * resolves through package.json's exports to dist/, as in an app that installed it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const fixtures = join(root, "test/fixtures");
const logs = join(root, "test-artifacts/frameworks");

/** The environment every fixture command gets: no telemetry, no colours, production mode. */
const baseEnv = {
  ...process.env,
  NEXT_TELEMETRY_DISABLED: "1",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
  NODE_ENV: "production",
  // vitest's own variables would make the frameworks think they run under a test runner
  VITEST: undefined,
  VITEST_WORKER_ID: undefined,
  VITEST_POOL_ID: undefined,
};

/** Makes "sessionkit" importable from the fixtures, and fails clearly when dist/ is missing. */
export function linkPackage(): void {
  for (const file of ["dist/index.js", "dist/adapters/next.js", "dist/adapters/react-router.js", "dist/adapters/sveltekit.js"]) {
    if (!existsSync(join(root, file))) throw new Error(`${file} is missing: run npm run build first (npm test does)`);
  }
  const link = join(fixtures, "node_modules/sessionkit");
  if (existsSync(link)) return;
  mkdirSync(dirname(link), { recursive: true });
  try {
    symlinkSync("../../..", link, "dir");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error; // another file made it
  }
}

/** A node_modules/.bin command as `node <script>`, so no shell and one process to stop. */
export function bin(script: string): string {
  return join(root, "node_modules", script);
}

/** Runs a build to the end; its output goes to test-artifacts/frameworks/<name>.log, shown on failure. */
export async function build(name: string, cwd: string, script: string, args: string[]): Promise<number> {
  mkdirSync(logs, { recursive: true });
  const log = join(logs, `${name}.log`);
  const started = Date.now();
  const child = spawn(process.execPath, [script, ...args], { cwd, env: baseEnv, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((done) => child.on("close", done));
  writeFileSync(log, output);
  if (code !== 0) throw new Error(`${name} failed (exit ${code}); its output (${log}):\n${output.slice(-4000)}`);
  return Date.now() - started;
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

export interface RunningApp {
  base: string;
  stop(): Promise<void>;
  /** What the server printed so far. */
  output(): string;
}

/** Starts a production server on 127.0.0.1 and waits until it answers HTTP. */
export async function serve(
  name: string,
  cwd: string,
  script: string,
  args: (port: number) => string[],
  env: (port: number) => Record<string, string> = () => ({}),
): Promise<RunningApp> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, [script, ...args(port)], {
    cwd,
    env: { ...baseEnv, ...env(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.race([exited, new Promise((done) => setTimeout(done, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(logs, `${name}.log`), output);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before listening:\n${output}`);
    try {
      await fetch(`${base}/__ready`, { redirect: "manual", signal: AbortSignal.timeout(2000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${name} did not answer on ${base} within 30 s:\n${output}`);
      }
      await new Promise((done) => setTimeout(done, 200));
    }
  }
  return { base, stop, output: () => output };
}

/** One browser's cookie jar for one origin; never follows redirects, so each response is seen. */
export class Browser {
  readonly cookies = new Map<string, string>();
  /** Every Set-Cookie line received, in order. */
  readonly setCookies: string[] = [];
  constructor(readonly base: string) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const response = await fetch(this.base + path, { redirect: "manual", ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      if (line === "") continue;
      this.setCookies.push(line);
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === "" || /;\s*max-age=0(;|$)/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  async text(path: string, init: RequestInit = {}): Promise<string> {
    return (await this.fetch(path, init)).text();
  }

  /** A form POST as a browser without JavaScript sends it. */
  post(path: string, fields: Record<string, string> | FormData, headers: Record<string, string> = {}): Promise<Response> {
    const body = fields instanceof FormData ? fields : new URLSearchParams(fields);
    return this.fetch(path, { method: "POST", body, headers: { origin: this.base, accept: "text/html", ...headers } });
  }

  /** The session token cookie's value (the first cookie the app set). */
  token(name = "sid"): string | undefined {
    return this.cookies.get(name);
  }
}

/** The text of the element with this id, tags stripped. */
export function byId(html: string, id: string): string | undefined {
  const match = new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  return match?.[2]?.replace(/<[^>]+>/g, "").replace(/<!--.*?-->/g, "");
}

/** The data-id attributes of the device list items, with their text. */
export function devices(html: string): Array<{ id: string; text: string }> {
  return [...html.matchAll(/<li data-id="([^"]+)">([\s\S]*?)<\/li>/g)].map((m) => ({
    id: m[1] as string,
    text: (m[2] as string).replace(/<!--.*?-->/g, ""),
  }));
}
