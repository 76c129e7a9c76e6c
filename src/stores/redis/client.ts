import type { Cluster, Redis } from "ioredis";
import type { RedisScript } from "./scripts.js";

/** An ioredis client: a standalone `Redis` or a `Cluster`. */
export type RedisClient = Redis | Cluster;

type Arg = string | Buffer | number;
interface Scripting {
  evalsha(sha: string, numkeys: number, ...args: Arg[]): Promise<unknown>;
  eval(lua: string, numkeys: number, ...args: Arg[]): Promise<unknown>;
}

export const isCluster = (client: RedisClient): client is Cluster => client.isCluster === true;

/** The `keyPrefix` the client adds to every key, if any (scripts build keys it cannot see). */
export function clientKeyPrefix(client: RedisClient): string | undefined {
  return isCluster(client) ? client.options.redisOptions?.keyPrefix : client.options.keyPrefix;
}

/**
 * Runs a script by its SHA1 and falls back to sending the source when the server does not
 * have it yet (first call, a restarted server, a new cluster node): EVAL caches it, so later
 * calls are EVALSHA again. ioredis routes both by the first key in Cluster.
 */
export async function runScript(client: RedisClient, script: RedisScript, keys: string[], args: Arg[]): Promise<unknown> {
  const c = client as unknown as Scripting;
  try {
    return await c.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    return await c.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/** The nodes that hold keys: every master of a Cluster, or the client itself. */
function keyNodes(client: RedisClient): Redis[] {
  if (!isCluster(client)) return [client];
  const masters = client.nodes("master");
  // Before the client has loaded the slot map it knows no masters: an empty walk would
  // report an empty store instead of failing.
  if (masters.length === 0) throw new Error("the Cluster client knows no master nodes yet (not connected)");
  return masters;
}

/** A node's `host:port`, as the Cluster client names it in its slot map. */
export const nodeName = (node: Redis) => `${node.options.host}:${node.options.port}`;

/** Escapes glob characters so a prefix matches only itself in SCAN MATCH. */
export const globEscape = (s: string) => s.replace(/[\\*?[\]]/g, "\\$&");

/**
 * Every key matching `pattern`, in batches, from every node that holds keys. SCAN never
 * blocks the server for long; keys created or deleted during the walk may or may not appear.
 */
export async function* scanKeys(client: RedisClient, pattern: string, count = 500): AsyncGenerator<string[]> {
  for (const node of keyNodes(client)) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== "0");
  }
}

/** A SCAN walk over every key node that can stop between steps and go on later. */
export interface ScanCursor {
  /** One SCAN step (at most about `count` keys, maybe none); null once the walk is complete. */
  step(): Promise<string[] | null>;
  /** Forgets the position: the next step starts a new walk. */
  reset(): void;
}

/**
 * A resumable SCAN over every node that holds keys, one bounded step per call, so a caller
 * can spread one walk over many calls (pruning keeps it across `pruneExpired` calls).
 *
 * In a Cluster the walk visits the masters known when it starts, by address; a master that
 * went away meanwhile is skipped, and masters that appeared meanwhile (a promoted replica)
 * are visited before the walk ends. Keys that move between nodes during a walk (resharding)
 * may be missed or seen twice, as SCAN itself allows.
 */
export function scanCursor(client: RedisClient, pattern: string, count: number): ScanCursor {
  let order: string[] = [];
  let at = 0;
  let cursor = "0";
  return {
    async step() {
      const nodes = new Map(keyNodes(client).map((node) => [nodeName(node), node]));
      if (order.length === 0) order = [...nodes.keys()];
      for (;;) {
        if (at >= order.length) {
          const added = [...nodes.keys()].filter((name) => !order.includes(name));
          if (added.length === 0) return null;
          order.push(...added);
        }
        const node = nodes.get(order[at] as string);
        if (!node) {
          at++;
          cursor = "0";
          continue;
        }
        const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
        // Advance only after the reply: a failed step is simply repeated by the next call.
        cursor = next;
        if (next === "0") at++;
        return keys;
      }
    },
    reset() {
      order = [];
      at = 0;
      cursor = "0";
    },
  };
}

/**
 * A copy of a client error that keeps only its name, message and string `code`. ioredis
 * attaches the failed command with every argument to its errors (`error.command.args`: user
 * ids, IPs, user agents, data), and Cluster errors nest the last node's error; none of that
 * may reach logs through the engine's SessionStoreError. Values of the call that show up in
 * the message itself (a Lua error could echo one) are masked too, unless too short to mask
 * without garbling the message.
 */
export function scrubError(error: unknown, bound: ReadonlyArray<string>): Error {
  const source = error instanceof Error ? error : new Error(String(error));
  let message = source.message;
  for (const value of [...bound].sort((a, b) => b.length - a.length)) {
    if (value.length >= 3) message = message.split(value).join("[redacted]");
  }
  const copy = new Error(message);
  copy.name = source.name;
  const code = (source as { code?: unknown }).code;
  if (typeof code === "string") Object.assign(copy, { code });
  return copy;
}
