/**
 * The built `sessionkit` CLI against Redis: `--store redis://...` on the standalone server and
 * `--store redis-cluster://host:port,...` on a 3-master cluster started for the test.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, expect, it, describe as plainDescribe } from "vitest";
import type { StoredSession } from "../../src/contract/store.js";
import { redisStore } from "../../src/stores/redis.js";
import { record } from "../conformance/store.case.js";
import { type RedisCluster, startRedisCluster } from "../helpers/redis-cluster.js";
import { dropRedisKeys, freePorts, redisBinariesMissing } from "../helpers/redis-server.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { revokeReachesCaches } from "./cli-cache.case.js";

const CLI = join(process.cwd(), "dist", "cli", "main.js");
const HOUR = 3_600_000;

/** Runs the CLI in a child process (async, so a test server in this process keeps answering). */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const { SESSIONKIT_STORE: _ignored, ...env } = process.env;
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** `list --json` prints JSON Lines: one object per line. */
const jsonLines = (out: string) =>
  out
    .trimEnd()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);

/** alice: 2 live + 1 expired (inside the grace, so still stored); bob: 1 live. */
async function seed(client: Redis | Cluster, prefix: string) {
  const now = Date.now();
  const store = redisStore({ client, prefix });
  const live = (userId: string, i: number) =>
    record({ userId, lastActiveAt: now - i * 1000, createdAt: now - HOUR, expiresAt: now + HOUR });
  const alice = [live("alice", 1), live("alice", 2)];
  const bob = [live("bob", 3)];
  const expired = record({ userId: "alice", lastActiveAt: now - HOUR, createdAt: now - 2 * HOUR, expiresAt: now - 1000 });
  for (const r of [...alice, ...bob, expired]) expect(await store.create(r)).toBe(true);
  return { alice, bob, expired };
}

/** The same commands, whichever form of URL reaches the store. */
async function exercise(url: string, seeded: { alice: StoredSession[]; bob: StoredSession[] }) {
  const stats = await cli(["stats", "--json", "--store", url]);
  expect(stats.err).toBe("");
  expect(JSON.parse(stats.out)).toEqual({
    total: 4,
    active: 3,
    expired: 1,
    topUsers: [
      { userId: "alice", count: 2 },
      { userId: "bob", count: 1 },
    ],
  });
  const list = jsonLines((await cli(["list", "alice", "--json", "--store", url])).out) as Array<{ id: string }>;
  expect(list.map((s) => s.id)).toEqual(seeded.alice.map((s) => s.id)); // most recently active first
  const target = seeded.alice[0] as StoredSession;
  expect(await cli(["revoke", target.id, "--store", url])).toMatchObject({ code: 0, out: `revoked session ${target.id}\n` });
  expect((await cli(["revoke", target.id, "--store", url])).code).toBe(1);
  expect((await cli(["prune", "--store", url])).out).toMatch(/^pruned 1 expired session in 1 batch/);
  expect(await cli(["revoke-user", "bob", "--store", url])).toMatchObject({ code: 0, out: 'revoked 1 session of user "bob"\n' });
  expect(JSON.parse((await cli(["stats", "--json", "--store", url])).out)).toMatchObject({ total: 1, active: 1, expired: 0 });
  expect((await cli(["migrate", "--store", url])).out).toBe("the redis store needs no migration\n");
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});

const service = describeWithService("redis");

service.describe("sessionkit CLI on standalone Redis", () => {
  const prefix = uniqueName("skcli");
  let client: Redis;
  beforeAll(() => {
    client = new Redis(service.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await dropRedisKeys(client, prefix);
    await client.quit();
  });

  it("stats, list, revoke, prune, revoke-user and migrate through --store redis://", async () => {
    const seeded = await seed(client, prefix);
    await exercise(`${service.url}?prefix=${prefix}`, seeded);
  }, 60_000);

  it("revoke and revoke-user reach the apps' near-caches at once", async () => {
    await revokeReachesCaches(redisStore({ client, prefix }), (args) =>
      cli([...args, "--store", `${service.url}?prefix=${prefix}`]),
    );
  }, 60_000);

  it("schema, a bad URL parameter (exit 2) and an unreachable server (exit 1)", async () => {
    const schema = await cli(["schema", "--store", "redis://127.0.0.1:6379"]);
    expect(schema).toMatchObject({ code: 0, out: expect.stringMatching(/needs no schema/) });
    const bad = await cli(["stats", "--store", "redis://127.0.0.1:6379?table=x"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown parameter "table" in the redis store URL/);
    const [port] = await freePorts(1);
    const down = await cli(["stats", "--store", `redis://:hunter2@127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.err).toMatch(new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${port}`));
    expect(down.err).not.toContain("hunter2");
    // Shell advice, said once, not the web-request wording of SessionStoreError.
    expect(down.err.match(/cannot reach/g)).toHaveLength(1);
    expect(down.err).toMatch(/Is Redis running there\?/);
    expect(down.err).not.toMatch(/fresh session/);
  }, 60_000);
});

const missing = redisBinariesMissing();
plainDescribe.skipIf(missing !== null)("sessionkit CLI on a Redis Cluster", () => {
  const prefix = uniqueName("skcli");
  let cluster: RedisCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  }, 60_000);
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });

  it("the same commands through --store redis-cluster://host:port,host:port", async () => {
    const seeded = await seed(client, prefix);
    const [a, b] = cluster.ports;
    await exercise(`redis-cluster://127.0.0.1:${a},127.0.0.1:${b}?prefix=${prefix}`, seeded);
  }, 60_000);

  it("revoke and revoke-user reach the apps' near-caches at once", async () => {
    const [a] = cluster.ports;
    await revokeReachesCaches(redisStore({ client, prefix }), (args) =>
      cli([...args, "--store", `redis-cluster://127.0.0.1:${a}?prefix=${prefix}`]),
    );
  }, 60_000);
});
