/**
 * A Redis master, one replica (`--replicaof`) and one Sentinel (quorum 1) on free loopback
 * ports, for the failover tests. Short Sentinel timings, so a failover takes a few seconds:
 * the master is considered down after `downAfterMs` without a reply.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePorts, type RedisServer, redisServer } from "./redis-server.js";

const run = promisify(execFile);

/** The Sentinel's name for the group. */
export const SENTINEL_MASTER_NAME = "mymaster";

/** One redis-cli command against 127.0.0.1:`port`; its output, trimmed. */
export const redisCli = async (port: number, ...args: string[]) =>
  (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 10_000 })).stdout.trim();

/** `INFO replication` (or another section) of the server on `port`, as field -> value. */
export async function redisInfo(port: number, section = "replication"): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await redisCli(port, "info", section)).split(/\r?\n/)) {
    const at = line.indexOf(":");
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1).trim();
  }
  return out;
}

export interface SentinelGroup {
  /** The data servers: [0] starts as master, [1] as its replica. */
  readonly servers: [RedisServer, RedisServer];
  readonly sentinel: RedisServer;
  /** For ioredis's `sentinels` option. */
  readonly sentinels: Array<{ host: string; port: number }>;
  readonly name: string;
  /** The master's port as the Sentinel reports it now. */
  masterPort(): Promise<number>;
  /** Waits (bounded) until the Sentinel reports `port` as the master. */
  waitForMaster(port: number, ms?: number): Promise<void>;
  /**
   * Waits (bounded) until `replicaPort` is an online replica of `masterPort`, caught up (same
   * replication offset: only reachable while no writes come in) and known to the Sentinel as a
   * healthy replica. With `{ linkOnly: true }`, only until its link to the master is up.
   */
  waitForReplica(masterPort: number, replicaPort: number, ms?: number, options?: { linkOnly?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startSentinelGroup(
  options: { downAfterMs?: number; failoverTimeoutMs?: number } = {},
): Promise<SentinelGroup> {
  const { downAfterMs = 1000, failoverTimeoutMs = 5000 } = options;
  const [masterPort, replicaPort, sentinelPort] = (await freePorts(3)) as [number, number, number];
  // Diskless sync without delay: a (re)synchronising replica is ready in milliseconds.
  const sync = ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"];
  const master = redisServer(masterPort, sync);
  const replica = redisServer(replicaPort, [...sync, "--replicaof", "127.0.0.1", String(masterPort)]);
  const sentinel = redisServer(sentinelPort, [], {
    sentinel: true,
    config: [
      `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${downAfterMs}`,
      `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${failoverTimeoutMs}`,
      `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
      "",
    ].join("\n"),
  });
  const all = [master, replica, sentinel];
  const stop = async () => {
    await Promise.all(all.map((s) => s.destroy()));
  };

  const masterPortNow = async () => {
    const reply = (await redisCli(sentinelPort, "sentinel", "get-master-addr-by-name", SENTINEL_MASTER_NAME)).split(/\r?\n/);
    return Number(reply[1]);
  };
  const waitUntil = async (check: () => Promise<boolean>, what: string, ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      try {
        if (await check()) return;
      } catch {
        // not answering yet
      }
      await sleep(50);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  };
  const group: SentinelGroup = {
    servers: [master, replica],
    sentinel,
    sentinels: [{ host: "127.0.0.1", port: sentinelPort }],
    name: SENTINEL_MASTER_NAME,
    masterPort: masterPortNow,
    waitForMaster: (port, ms = 30_000) =>
      waitUntil(async () => (await masterPortNow()) === port, `the Sentinel to report ${port} as master`, ms),
    waitForReplica: (mPort, rPort, ms = 30_000, { linkOnly = false } = {}) =>
      waitUntil(
        async () => {
          const m = await redisInfo(mPort);
          const r = await redisInfo(rPort);
          if (linkOnly) return r.role === "slave" && r.master_port === String(mPort) && r.master_link_status === "up";
          const online = Object.entries(m).some(([k, v]) => k.startsWith("slave") && v.includes(`port=${rPort},state=online`));
          if (!online || r.master_link_status !== "up" || r.master_repl_offset !== m.master_repl_offset) return false;
          // The Sentinel must know the replica and see it healthy, or it cannot promote it.
          const replicas = await redisCli(sentinelPort, "sentinel", "replicas", SENTINEL_MASTER_NAME);
          const lines = replicas.split(/\r?\n/);
          const at = lines.indexOf(`127.0.0.1:${rPort}`);
          if (at < 0) return false;
          const flags = lines[lines.indexOf("flags", at) + 1] ?? "";
          return flags === "slave";
        },
        `${rPort} to be an online replica of ${mPort} known to the Sentinel`,
        ms,
      ),
    stop,
  };
  try {
    await master.start();
    await replica.start();
    await sentinel.start();
    await group.waitForReplica(masterPort, replicaPort);
  } catch (error) {
    await stop();
    throw error;
  }
  return group;
}
