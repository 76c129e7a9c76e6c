/**
 * The same demo on every server store, opened from a SESSIONKIT_STORE-style URL by the CLI's
 * map (`openDemoStore`), as `npm start` does: two devices sign in, one signs the other out.
 */
import { Redis } from "ioredis";
import { afterAll, expect, it } from "vitest";
import { openDemoStore } from "../../demo/open-demo-store.js";
import { dropRedisKeys } from "../helpers/redis-server.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { sqlBackends } from "../multi-server/sql-stores.js";
import { csrfOf, type RunningDemo, signInAgent, startDemo } from "./harness.js";

const withParam = (url: string, name: string, value: string) => {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
};

interface Backend {
  name: "postgres" | "mysql" | "redis";
  /** The store URL for this run (own table or key prefix) and how to remove what it left. */
  prepare(url: string): { storeUrl: string; cleanup(): Promise<void> };
}

const backends: Backend[] = [
  ...(["postgres", "mysql"] as const).map((name) => ({
    name,
    prepare(url: string) {
      const table = uniqueName(`sk_demo_${name.slice(0, 2)}`);
      return {
        storeUrl: withParam(url, "table", table),
        async cleanup() {
          const admin = sqlBackends[name].admin(url);
          await admin.dropTable(table);
          await admin.end();
        },
      };
    },
  })),
  {
    name: "redis",
    prepare(url: string) {
      const prefix = uniqueName("sk_demo");
      return {
        storeUrl: withParam(url, "prefix", prefix),
        async cleanup() {
          const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
          await dropRedisKeys(client, prefix);
          client.disconnect();
        },
      };
    },
  },
];

for (const backend of backends) {
  const { url, describe } = describeWithService(backend.name);

  describe(`demo on ${backend.name} (SESSIONKIT_STORE=${backend.name}://...)`, () => {
    let running: RunningDemo | undefined;
    let cleanup: (() => Promise<void>) | undefined;

    afterAll(async () => {
      await running?.close();
      await cleanup?.();
    });

    it("lists both devices of a user, and one signs the other out", async () => {
      const prepared = backend.prepare(url);
      cleanup = prepared.cleanup;
      const { store } = await openDemoStore(prepared.storeUrl);
      running = await startDemo(store);

      const laptop = await signInAgent(running.url, "ada", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0");
      const phone = await signInAgent(running.url, "ada", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile Safari");
      const devices = await laptop.get("/devices").expect(200);
      expect(devices.text.match(/data-testid="device"/g)).toHaveLength(2);
      expect(devices.text).toContain("this device");

      await laptop
        .post("/devices/revoke-others")
        .type("form")
        .send({ _csrf: csrfOf(devices.text) })
        .expect(303);
      expect(await running.demo.sessions.list("ada")).toHaveLength(1);
      const after = await phone.get("/").expect(200);
      expect(after.text).toContain("Not signed in");
      expect(after.text).toContain("session has ended");
      expect((await laptop.get("/").expect(200)).text).toContain("Signed in as");
    });
  });
}
