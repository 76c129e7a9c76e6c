// HTTP-level runs: an Express server per side (bench/http/server.mjs, its own process) and
// autocannon in this process, on 127.0.0.1 only, bounded in time.
import { fork } from "node:child_process";
import { join } from "node:path";
import autocannon from "autocannon";
import { ROOT } from "./dist.mjs";
import { cookiePair } from "./fixtures.mjs";

const SERVER = join(ROOT, "bench", "http", "server.mjs");

/**
 * Starts the app of one side (`library`: "sessionkit" or "peer") on `framework` ("express" or
 * "fastify"); resolves once it listens.
 * @returns {Promise<{ port: number, stop: () => Promise<void> }>}
 */
export function startServer(library, backend, framework) {
  return new Promise((resolve, reject) => {
    const child = fork(SERVER, [library, backend, framework], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`[bench] the ${library}/${backend}/${framework} server did not start within 30 s`));
    }, 30_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`[bench] the ${library}/${backend}/${framework} server exited early with code ${code}`));
    });
    child.once("message", ({ port }) => {
      clearTimeout(timer);
      child.removeAllListeners("exit");
      const stop = () =>
        new Promise((done) => {
          if (child.exitCode !== null) return done();
          const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
          child.once("exit", () => {
            clearTimeout(force);
            done();
          });
          child.send("close");
        });
      resolve({ port, stop });
    });
  });
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

/**
 * One autocannon run against `path`, each request carrying the next cookie of the pool
 * (so concurrent requests hit different sessions), or none when `cookies` is empty.
 * @returns {Promise<{ rps: number, p99: number, failures: number }>}
 */
export async function loadTest(port, path, cookies, { seconds, connections }) {
  let next = 0;
  const request =
    cookies.length === 0
      ? { method: "GET", path }
      : {
          method: "GET",
          path,
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: cookies[next++ % cookies.length] } }),
        };
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [request],
  });
  return {
    rps: result.requests.total / (result.duration || seconds),
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}
