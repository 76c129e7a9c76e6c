/**
 * sessionkit/sveltekit on a real SvelteKit app (test/fixtures/sveltekit-app): `vite build` with
 * adapter-node, served by `node build/index.js`. The handle hook puts the session on
 * event.locals for load functions, form actions and endpoints.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser, bin, build, byId, devices, fixtures, linkPackage, type RunningApp, serve } from "./fixture-app.js";

const cwd = join(fixtures, "sveltekit-app");
let app: RunningApp;

beforeAll(async () => {
  linkPackage();
  const ms = await build("sveltekit-build", cwd, bin("vite/bin/vite.js"), ["build"]);
  console.log(`sveltekit build: ${(ms / 1000).toFixed(1)} s`);
  app = await serve(
    "sveltekit-serve",
    cwd,
    join(cwd, "build/index.js"),
    () => [],
    (port) => ({ PORT: String(port), HOST: "127.0.0.1", ORIGIN: `http://127.0.0.1:${port}` }),
  );
}, 300_000);

afterAll(async () => {
  await app?.stop();
});

describe("sessionkit/sveltekit on vite build + adapter-node", () => {
  let first: Browser;

  it("an endpoint changes event.locals.session and the hook commits it", async () => {
    first = new Browser(app.base);
    const one = await first.fetch("/api/count");
    expect(await one.json()).toEqual({ count: 1, userId: null });
    expect(one.headers.getSetCookie()[0]).toMatch(/^sid=[^;]+;.*HttpOnly/i);
    expect(one.headers.get("cache-control")).toBe("no-store");
    expect(one.headers.get("vary")).toMatch(/cookie/i);
    expect(await (await first.fetch("/api/count")).json()).toEqual({ count: 2, userId: null });
  });

  it("a page without changes sets no cookie", async () => {
    const page = await first.fetch("/");
    expect(byId(await page.text(), "status")).toBe("signed out");
    expect(page.headers.getSetCookie()).toEqual([]);
  });

  it("sign-in in a form action rotates the token before the redirect goes out", async () => {
    const before = first.token();
    const login = await first.post("/?/login", { name: "ada" });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/");
    expect(first.token()).toBeTruthy();
    expect(first.token()).not.toBe(before);
    const stale = await fetch(`${app.base}/api/count`, { headers: { cookie: `sid=${before}` } });
    expect(await stale.json()).toEqual({ count: 1, userId: null }); // the old token is a stranger

    expect(byId(await first.text("/"), "status")).toBe("signed in as user-ada (ada)");
    expect(await (await first.fetch("/api/count")).json()).toEqual({ count: 3, userId: "user-ada" });
  });

  it("revoked from another session, the first is refused", async () => {
    const second = new Browser(app.base);
    expect((await second.post("/?/login", { name: "ada" })).status).toBe(303);
    const firstId = byId(await first.text("/"), "session-id") as string;
    const listed = devices(await second.text("/"));
    expect(listed.find((d) => d.id === firstId)?.text).toBe("other device");

    expect((await second.post("/?/revoke", { id: firstId })).status).toBe(303);
    expect(byId(await first.text("/"), "status")).toBe("signed out");
    expect(await (await first.fetch("/api/count")).json()).toEqual({ count: 1, userId: null });
    expect(devices(await second.text("/"))).toHaveLength(1);
  });

  it("destroy() in a form action clears the cookie", async () => {
    const third = new Browser(app.base);
    await third.post("/?/login", { name: "bo" });
    expect(third.token()).toBeTruthy();
    const out = await third.post("/?/logout", {});
    expect(out.status).toBe(303);
    expect(third.setCookies.at(-1)).toMatch(/^sid=; .*Max-Age=0/i);
    expect(third.token()).toBeUndefined();
  });
});
