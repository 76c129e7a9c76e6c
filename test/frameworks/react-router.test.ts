/**
 * sessionkit/react-router on a real React Router 7 app (test/fixtures/react-router-app):
 * `react-router build` (the framework's Vite build), served by `react-router-serve`. The routes
 * use the stock getSession / commitSession / destroySession trio.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser, bin, build, byId, devices, fixtures, linkPackage, type RunningApp, serve } from "./fixture-app.js";

const cwd = join(fixtures, "react-router-app");
let app: RunningApp;

beforeAll(async () => {
  linkPackage();
  const ms = await build("react-router-build", cwd, bin("@react-router/dev/bin.js"), ["build"]);
  console.log(`react-router build: ${(ms / 1000).toFixed(1)} s`);
  app = await serve(
    "react-router-serve",
    cwd,
    bin("@react-router/serve/bin.js"),
    () => ["build/server/index.js"],
    (port) => ({ PORT: String(port), HOST: "127.0.0.1" }),
  );
}, 300_000);

afterAll(async () => {
  await app?.stop();
});

describe("sessionkit/react-router on react-router build + react-router-serve", () => {
  let first: Browser;

  it("a visitor without a session gets none: nothing to commit, no cookie", async () => {
    first = new Browser(app.base);
    const page = await first.fetch("/");
    expect(page.status).toBe(200);
    expect(byId(await page.text(), "status")).toBe("signed out");
    expect(page.headers.getSetCookie().filter(Boolean)).toEqual([]);
  });

  it("commitSession saves data, in-place changes included", async () => {
    const one = await first.fetch("/count");
    expect(await one.json()).toEqual({ visits: [1], userId: null });
    expect(one.headers.getSetCookie()[0]).toMatch(/^sid=[^;]+;.*HttpOnly/i);
    expect(await (await first.fetch("/count")).json()).toEqual({ visits: [1, 2], userId: null });
  });

  it("sign-in rotates the token, keeps the data, and a flash message shows once", async () => {
    const before = first.token();
    const login = await first.post("/login", { name: "ada" });
    expect(login.status).toBe(302);
    expect(login.headers.get("location")).toBe("/");
    expect(first.token()).not.toBe(before);
    const stale = await fetch(`${app.base}/count`, { headers: { cookie: `sid=${before}` } });
    expect(await stale.json()).toEqual({ visits: [1], userId: null }); // the old token is a stranger

    const page = await first.text("/");
    expect(byId(page, "status")).toBe("signed in as user-ada (ada)");
    expect(byId(page, "message")).toBe("welcome, ada");
    expect(byId(await first.text("/"), "message")).toBe(""); // flashed: gone after one read
    expect(await (await first.fetch("/count")).json()).toEqual({ visits: [1, 2, 3], userId: null });
  });

  it("revoked from another session, the first is refused", async () => {
    const second = new Browser(app.base);
    expect((await second.post("/login", { name: "ada" })).status).toBe(302);
    const firstId = byId(await first.text("/"), "session-id") as string;
    const listed = devices(await second.text("/"));
    expect(listed.map((d) => d.id)).toContain(firstId);
    expect(listed.find((d) => d.id === firstId)?.text).toBe("other device");

    expect((await second.post("/revoke", { id: firstId })).status).toBe(302);
    expect(byId(await first.text("/"), "status")).toBe("signed out");
    expect(devices(await second.text("/"))).toHaveLength(1);
  });

  it("destroySession signs out and clears the cookie", async () => {
    const third = new Browser(app.base);
    await third.post("/login", { name: "bo" });
    expect(third.token()).toBeTruthy();
    const out = await third.post("/logout", {});
    expect(out.status).toBe(302);
    expect(third.setCookies.at(-1)).toMatch(/^sid=; .*Max-Age=0/i);
    expect(third.token()).toBeUndefined();
  });
});
