/**
 * Opens a Redis store from a URL, for the CLI (`--store`). Imports ioredis only here, when a
 * Redis URL is actually used; the store itself never imports it.
 *
 * - `redis://[user:password@]host:port[/db][?prefix=P]`
 * - `rediss://...` the same over TLS (ioredis reads the scheme)
 * - `redis-cluster://[user:password@]host:port,host:port,...[?prefix=P]`
 */
import type { SessionStore } from "../contract/store.js";
import { redisStore } from "../stores/redis.js";
import { ShellFailure } from "./failure.js";
import { UsageError } from "./store-driver.js";

export interface ParsedRedisUrl {
  cluster: boolean;
  /** Standalone: the URL ioredis parses itself, without our query parameters. */
  url: string;
  /** Cluster: the seed nodes. */
  nodes: Array<{ host: string; port: number }>;
  username: string | undefined;
  password: string | undefined;
  prefix: string | undefined;
  /** Where it points, for messages: never the password. */
  where: string;
}

/** Reads a Redis store URL; a URL it cannot read is a {@link UsageError}. */
export function parseRedisUrl(url: string): ParsedRedisUrl {
  const usage = (message: string) => new UsageError(message);
  const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
  const cluster = scheme === "redis-cluster";
  // The cluster form lists several host:port pairs, which URL cannot parse: parse one, then split.
  const first = cluster ? url.replace(/^[^:]+:\/\/([^/?#]*@)?([^,/?#]*)[^/?#]*/, "redis://$1$2") : url;
  let parsed: URL;
  try {
    parsed = new URL(first);
  } catch {
    throw usage(`cannot read the redis store URL ${JSON.stringify(url)}; expected for example redis://127.0.0.1:6379`);
  }
  for (const key of parsed.searchParams.keys()) {
    if (key !== "prefix") throw usage(`unknown parameter "${key}" in the redis store URL (only ?prefix=NAME is known)`);
  }
  const prefix = parsed.searchParams.get("prefix") ?? undefined;
  const username = parsed.username ? decodeURIComponent(parsed.username) : undefined;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  let nodes: Array<{ host: string; port: number }> = [];
  if (cluster) {
    const hosts = /^[^:]+:\/\/(?:[^/?#]*@)?([^/?#]*)/.exec(url)?.[1] ?? "";
    nodes = hosts
      .split(",")
      .filter(Boolean)
      .map((hp) => {
        const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp);
        if (!m) throw usage(`cannot read the host:port "${hp}" in the redis-cluster store URL`);
        return { host: (m[1] as string).replace(/^\[|\]$/g, ""), port: Number(m[2] ?? 6379) };
      });
    if (nodes.length === 0) throw usage("the redis-cluster store URL names no node: use redis-cluster://host:port,host:port");
  }
  parsed.search = "";
  const safe = new URL(parsed.href);
  safe.password = safe.password ? "***" : "";
  const hostsShown = cluster ? nodes.map((n) => `${n.host}:${n.port}`).join(",") : safe.host + safe.pathname;
  return {
    cluster,
    url: parsed.href,
    nodes,
    username,
    password,
    prefix,
    where: `${cluster ? "redis-cluster" : safe.protocol.slice(0, -1)}://${hostsShown} (prefix ${prefix ?? "sessionkit"})`,
  };
}

/**
 * Connects (failing after a few attempts instead of retrying forever, as a command should)
 * and returns a store that quits its client on `close()`.
 */
export async function openRedisUrl(url: string): Promise<{ store: SessionStore; where: string }> {
  const p = parseRedisUrl(url);
  const { Cluster, Redis } = await import("ioredis");
  const common = { maxRetriesPerRequest: 1, connectTimeout: 5_000, lazyConnect: true };
  const giveUp = (attempt: number) => (attempt > 2 ? null : 200);
  const client = p.cluster
    ? new Cluster(p.nodes, {
        lazyConnect: true,
        clusterRetryStrategy: giveUp,
        redisOptions: { ...common, username: p.username, password: p.password },
      })
    : new Redis(p.url, { ...common, retryStrategy: giveUp });
  // Failures reach the caller through the command that failed; no unhandled "error" events.
  client.on("error", () => {});
  try {
    await client.connect();
    if (!p.cluster) await client.ping();
  } catch (error) {
    client.disconnect();
    const reason = error instanceof Error ? error.message : String(error);
    const product = p.cluster ? "the Redis Cluster" : "Redis";
    throw new ShellFailure(
      `cannot reach ${product} at ${p.where} (${reason}). Is ${product} running there? Check the host, port and password in --store.`,
      { cause: error },
    );
  }
  return { store: redisStore({ client, prefix: p.prefix, closeClient: true }), where: p.where };
}

/** What `sessionkit schema` prints for Redis (after checking the URL): there is no schema. */
export function redisSchemaNote(url: string): string {
  parseRedisUrl(url);
  return "-- the redis store needs no schema: keys are written on first use and expire natively\n";
}
