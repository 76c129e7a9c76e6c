/**
 * A real Redis Cluster of `masters` redis-server processes on loopback ports, created with
 * `redis-cli --cluster create`, for the Cluster conformance run and the slot migration test.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePorts, type RedisServer, redisServer } from "./redis-server.js";

const run = promisify(execFile);

export interface RedisCluster {
  readonly ports: number[];
  /** Seed nodes for `new Redis.Cluster(nodes)`. */
  readonly nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

const cli = async (port: number, ...args: string[]) =>
  (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8" })).stdout;

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const ports = await freePorts(masters);
  const servers: RedisServer[] = ports.map((port) =>
    redisServer(port, ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]),
  );
  const stop = async () => {
    await Promise.all(servers.map((s) => s.destroy()));
  };
  try {
    await Promise.all(servers.map((s) => s.start()));
    await run(
      "redis-cli",
      ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"],
      { encoding: "utf8" },
    );
    // Every node must agree before clients connect, or the first commands see CLUSTERDOWN.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const states = await Promise.all(ports.map((p) => cli(p, "cluster", "info")));
      if (states.every((s) => s.includes("cluster_state:ok"))) break;
      if (Date.now() > deadline) throw new Error(`cluster did not reach cluster_state:ok in 30 s:\n${states.join("\n")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports, nodes: ports.map((port) => ({ host: "127.0.0.1", port })), stop };
}
