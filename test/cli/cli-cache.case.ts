/**
 * Shared by the CLI suites of the stores with a near-cache channel.
 */
import { expect } from "vitest";
import type { SessionStore } from "../../src/contract/store.js";
import { createSessions } from "../../src/index.js";

/**
 * `revoke` and `revoke-user` tell the apps' near-caches, as `sessions.revoke()` does: an app
 * that has the session cached refuses it right after the command (its cache's ttl is an hour;
 * MySQL's polling channel within its interval).
 */
export async function revokeReachesCaches(
  store: SessionStore,
  cli: (args: string[]) => { code: number | null } | Promise<{ code: number | null }>,
) {
  let reads = 0;
  const counted = Object.create(store, {
    get: {
      value: (id: string, now: number) => {
        reads++;
        return store.get(id, now);
      },
    },
    close: { value: async () => {} },
  });
  const app = createSessions({ store: counted, secrets: ["cli-cache-secret-0123456789abcdef0123456789"], cache: { ttl: "1h" } });
  try {
    const signIn = async (user: string) => {
      const s = await app.load(new Request("http://localhost/"));
      await s.login(user);
      const cookie = ((await app.commit(s)).get("set-cookie") ?? "").split(";")[0] as string;
      return { id: s.id, request: () => new Request("http://localhost/", { headers: { cookie } }) };
    };
    const sessions = [await signIn("carol"), await signIn("dave")];
    // Until the app's subscription is up its loads read Redis; then they are hits.
    const deadline = Date.now() + 10_000;
    for (;;) {
      for (const s of sessions) await app.load(s.request());
      const before = reads;
      for (const s of sessions) expect((await app.load(s.request())).isNew).toBe(false);
      if (reads === before) break;
      if (Date.now() > deadline) throw new Error("the app's near-cache never came up");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await cli(["revoke", sessions[0]?.id as string])).toMatchObject({ code: 0 });
    expect(await cli(["revoke-user", "dave"])).toMatchObject({ code: 0 });
    for (const s of sessions) {
      // The command has returned; the message may still be in this process's socket.
      const end = Date.now() + 2_000;
      while (!(await app.load(s.request())).isNew && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      expect((await app.load(s.request())).isNew).toBe(true);
    }
  } finally {
    await app.close();
    await store.close();
  }
}
