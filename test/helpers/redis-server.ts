/**
 * Starts throwaway redis-server processes on loopback ports for the cluster and fault tests.
 * Every process is killed on stop() and, as a last resort, when the test process exits.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const alive = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of alive) child.kill("SIGKILL");
});

/** Whether redis-server and redis-cli are installed (Debian's redis-server package). */
export function redisBinariesMissing(): string | null {
  for (const bin of ["redis-server", "redis-cli"]) {
    try {
      execFileSync(bin, ["--version"], { stdio: "ignore" });
    } catch {
      return `${bin} is not installed (apt-get install redis-server; .ci/services.sh does it)`;
    }
  }
  return null;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free loopback ports starting at a random base in 20000-29000, whose
 * cluster bus ports (+10000) are free too.
 */
export async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 9_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const checks = await Promise.all(ports.flatMap((p) => [portFree(p), portFree(p + 10_000)]));
    if (checks.every(Boolean)) return ports;
  }
  throw new Error("no free loopback port range found for redis-server");
}

async function waitForPing(port: number, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited: ${log()}`);
    try {
      const out = execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      });
      if (out.trim() === "PONG") return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-server on ${port} did not answer PING within 15 s: ${log()}`);
}

export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  /** Starts (again) on the same port and data directory; resolves when it answers PING. */
  start(): Promise<void>;
  /** Stops it: SIGTERM (Redis saves what its config says and exits), waits for the exit. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL (a crash: nothing saved, connections reset), waits for the exit. */
  kill(): Promise<void>;
  /** The last few kB the process printed (its log), for failure messages. */
  log(): string;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

export interface RedisServerOptions {
  /**
   * A config file to start from (written once into the server's directory, as `redis.conf`):
   * Sentinel needs one, as it rewrites its configuration on disk.
   */
  config?: string;
  /** Runs it as Redis Sentinel (`redis-server <config> --sentinel`); needs `config`. */
  sentinel?: boolean;
}

/** A redis-server on 127.0.0.1:`port` with its own temporary directory and extra `args`. */
export function redisServer(port: number, args: string[] = [], options: RedisServerOptions = {}): RedisServer {
  const dir = mkdtempSync(path.join(tmpdir(), `sessionkit-redis-${port}-`));
  let child: ChildProcess | null = null;
  let output = "";
  const head: string[] = [];
  if (options.config !== undefined) {
    const file = path.join(dir, "redis.conf");
    writeFileSync(file, options.config);
    head.push(file);
  }
  if (options.sentinel) {
    if (options.config === undefined) throw new Error("a Sentinel needs a config file");
    head.push("--sentinel");
  }

  const halt = async (signal: "SIGTERM" | "SIGKILL") => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    c.kill(signal);
    const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    alive.delete(c);
  };
  const stop = () => halt("SIGTERM");

  return {
    port,
    dir,
    async start() {
      if (child) throw new Error(`redis-server on ${port} is already running`);
      output = "";
      const c = spawn(
        "redis-server",
        [...head, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", ...args],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      child = c;
      alive.add(c);
      c.on("exit", () => alive.delete(c));
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-16_000);
      };
      c.stdout?.on("data", keep);
      c.stderr?.on("data", keep);
      await waitForPing(port, c, () => output);
    },
    stop,
    kill: () => halt("SIGKILL"),
    log: () => output,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deletes every key under `prefix` (all masters of a Cluster): a test's cleanup. */
export async function dropRedisKeys(client: import("ioredis").Redis | import("ioredis").Cluster, prefix: string) {
  const nodes = client.isCluster ? (client as import("ioredis").Cluster).nodes("master") : [client as import("ioredis").Redis];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      // One key per command: in a Cluster the keys of one node span many slots.
      await Promise.all(keys.map((key) => client.unlink(key)));
    } while (cursor !== "0");
  }
}
