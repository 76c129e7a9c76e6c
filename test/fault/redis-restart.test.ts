/**
 * Redis restarted under a running app: requests during the outage reject with
 * SessionStoreError (never a fresh session), and once ioredis has reconnected the same
 * `createSessions` instance works again, scripts reloaded, without restarting the app.
 */
import { inspect } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionStoreError } from "../../src/contract/errors.js";
import { createSessions } from "../../src/index.js";
import { redisStore } from "../../src/stores/redis.js";
import { freePorts, type RedisServer, redisBinariesMissing, redisServer } from "../helpers/redis-server.js";

const missing = redisBinariesMissing();
if (missing) {
  const line = `SKIPPING redis fault suite: ${missing}`;
  if (process.env.CI === "true" || process.env.CI === "1") throw new Error(`${line}; under CI this is a failure`);
  console.warn(`\n${"!".repeat(78)}\n  ${line}\n${"!".repeat(78)}\n`);
}

/** Polls a condition (bounded); used to wait for a connection state, never as an assertion. */
async function until(what: string, ok: () => boolean, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(missing !== null)("redis store: server restarted mid-run", () => {
  let server: RedisServer;
  let client: Redis;

  beforeAll(async () => {
    const [port] = await freePorts(1);
    // Append-only file on, so the session written before the restart is there after it.
    server = redisServer(port as number, ["--appendonly", "yes"]);
    await server.start();
    // The recommended client options (docs/redis.md): fail fast while disconnected, keep reconnecting.
    client = new Redis({
      host: "127.0.0.1",
      port: server.port,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: () => 100,
    });
    client.on("error", () => {}); // reconnect noise while the server is down
    await until("the first connection", () => client.status === "ready");
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.destroy();
  });

  it("rejects with SessionStoreError during the outage and recovers after it", async () => {
    const sessions = createSessions<{ n: number }>({
      store: redisStore({ client }),
      secrets: ["redis-fault-secret-0123456789abcdef"],
    });
    const first = await sessions.load(new Request("http://localhost/"));
    first.set("n", 1);
    const cookie = ((await sessions.commit(first)).get("set-cookie") ?? "").split(";")[0] as string;
    const request = () => new Request("http://localhost/", { headers: { cookie } });

    await server.stop();
    await until("ioredis to notice the outage", () => client.status !== "ready");

    const load = sessions.load(request());
    await expect(load).rejects.toBeInstanceOf(SessionStoreError);
    await expect(load).rejects.toThrow(/\[sessionkit\] \[redis\] get failed/);
    const fresh = await sessions.load(new Request("http://localhost/"));
    fresh.set("n", 9);
    await expect(sessions.commit(fresh)).rejects.toBeInstanceOf(SessionStoreError);
    const listed = await sessions.list("zq7-outage-user").catch((e: unknown) => e);
    expect(listed).toBeInstanceOf(SessionStoreError);
    // Connection errors of ioredis may carry the command and its arguments: never shown.
    expect(inspect(listed, { depth: 10 })).not.toContain("zq7-outage-user");

    await server.start();
    await until("ioredis to reconnect", () => client.status === "ready");

    // Same app instance: the session written before the outage is back, and writes work
    // (the restarted server has no scripts cached: EVALSHA falls back to EVAL).
    const again = await sessions.load(request());
    expect(again.isNew).toBe(false);
    expect(again.get("n")).toBe(1);
    again.set("n", 2);
    await sessions.commit(again);
    expect((await sessions.load(request())).get("n")).toBe(2);
    await sessions.close();
  }, 60_000);
});
