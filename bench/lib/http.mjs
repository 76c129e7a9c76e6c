// HTTP-level runs: one server process per configuration (bench/http/server.mjs) and the load
// generator in a process of its own (bench/lib/load-worker.mjs), on 127.0.0.1 only, bounded in time.
import { fork } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./dist.mjs";
import { cookiePair } from "./fixtures.mjs";

const SERVER = join(ROOT, "bench", "http", "server.mjs");
const WORKER = join(ROOT, "bench", "lib", "load-worker.mjs");

/** A child's next message of `type` (servers and the worker answer one request at a time). */
function nextMessage(child, type, ms = 120_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`[bench] no "${type}" message within ${ms / 1000} s`));
    }, ms);
    const onMessage = (message) => {
      if (message?.type !== type) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`[bench] child exited with code ${code} while waiting for "${type}"`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/**
 * Starts the app of one configuration; resolves once it listens. With `profileDir`, the server
 * runs under `--cpu-prof` and writes `<label>.cpuprofile` there when it stops.
 * @returns {Promise<{ port: number, stats: () => Promise<object>, stop: () => Promise<void> }>}
 */
export async function startServer(library, backend, framework, { profileDir = null, label = null } = {}) {
  const execArgv = [];
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    execArgv.push(
      "--cpu-prof",
      `--cpu-prof-dir=${profileDir}`,
      `--cpu-prof-name=${label ?? `${framework}-${backend}-${library}`}.cpuprofile`,
    );
  }
  const child = fork(SERVER, [library, backend, framework], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv });
  const ready = await nextMessage(child, "ready", 30_000).catch((error) => {
    child.kill();
    throw new Error(`[bench] the ${library}/${backend}/${framework} server did not start: ${error.message}`);
  });
  return {
    port: ready.port,
    async stats() {
      const answer = nextMessage(child, "stats", 10_000);
      child.send({ type: "stats" });
      return answer;
    },
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
        child.once("exit", () => {
          clearTimeout(force);
          done();
        });
        child.send("close");
      }),
  };
}

/** The load generator's process; `run()` is one autocannon run. */
export function startLoadWorker() {
  const child = fork(WORKER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let ids = 0;
  return {
    /** @returns {Promise<{ rps: number, p99: number, failures: number, total: number }>} */
    async run(port, path, cookies, { seconds, connections }) {
      const id = ++ids;
      const answer = nextMessage(child, "result", (seconds + 60) * 1000);
      child.send({ type: "run", id, port, path, cookies, seconds, connections });
      const result = await answer;
      if (result.error) throw new Error(`[bench] load generator failed: ${result.error}`);
      return result;
    },
    stop() {
      if (child.exitCode === null) child.kill();
    },
  };
}

/** Creates `count` sessions through the app itself; returns their cookies. */
export async function seedOverHttp(port, count) {
  const cookies = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/seed?i=${i}`, { method: "POST" });
    if (!response.ok) throw new Error(`[bench] seeding failed with HTTP ${response.status}`);
    await response.arrayBuffer();
    cookies.push(cookiePair(response.headers.get("set-cookie")));
  }
  return cookies;
}

/** The stored `counter` of one session, read through the app (checks that writes landed). */
export async function counterOverHttp(port, cookie) {
  const response = await fetch(`http://127.0.0.1:${port}/counter`, { headers: { cookie } });
  if (!response.ok) throw new Error(`[bench] /counter answered HTTP ${response.status}`);
  return (await response.json()).counter;
}
