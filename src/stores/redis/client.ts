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
