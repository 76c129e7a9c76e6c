/**
 * sessionkit/next on a real Next.js App Router app (test/fixtures/next-app): `next build`, then
 * `next start` on 127.0.0.1. Sign-in is a server action posted as a browser without JavaScript
 * posts it; pages are server components that only read; /api/me is a route handler that
 * commits; proxy.js (middleware) can only peek.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser, bin, build, byId, devices, fixtures, linkPackage, type RunningApp, serve } from "./fixture-app.js";

const cwd = join(fixtures, "next-app");
const next = bin("next/dist/bin/next");
let app: RunningApp;

beforeAll(async () => {
  linkPackage();
  const ms = await build("next-build", cwd, next, ["build"]);
  console.log(`next build: ${(ms / 1000).toFixed(1)} s`);
  app = await serve("next-start", cwd, next, (port) => ["start", "-H", "127.0.0.1", "-p", String(port)]);
}, 300_000);

afterAll(async () => {
  await app?.stop();
});

/** The id of the server action behind the form that contains `marker` (or the first form). */
function actionId(html: string, marker = ""): FormData {
  for (const form of html.matchAll(/<form[\s\S]*?<\/form>/g)) {
    if (!form[0].includes(marker)) continue;
    const id = /name="(\$ACTION_ID_[0-9a-f]+)"/.exec(form[0])?.[1];
    if (!id) continue;
    const data = new FormData();
    data.set(id, "");
    for (const hidden of form[0].matchAll(/<input type="hidden" name="([^"$][^"]*)" value="([^"]*)"/g)) {
      data.set(hidden[1] as string, hidden[2] as string);
    }
    return data;
  }
  throw new Error(`no server action form${marker ? ` with ${marker}` : ""} in:\n${html}`);
}

async function signIn(browser: Browser, name: string): Promise<Response> {
  const form = actionId(await browser.text("/"), "Sign in");
  form.set("name", name);
  return browser.post("/", form);
}

describe("sessionkit/next on next build + next start", () => {
  const a = () => new Browser(app.base);
  let first: Browser;

  it("a server component reads the session and never sets a cookie", async () => {
    first = a();
    const page = await first.fetch("/");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(byId(html, "status")).toBe("signed out");
    expect(byId(html, "same-read")).toBe("true"); // two read() calls in one render: one load
    expect(page.headers.getSetCookie()).toEqual([]);
  });

  it("a route handler loads, changes and commits through cookies()", async () => {
    const response = await first.fetch("/api/me");
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "signed out", hits: 1 });
    const [line] = response.headers.getSetCookie();
    expect(line).toMatch(/^sid=[^;]+; Path=\/; Expires=[^;]+; Max-Age=604800; HttpOnly; SameSite=lax$/i);
    expect(await (await first.fetch("/api/me")).json()).toEqual({ error: "signed out", hits: 2 });
  });

  it("sign-in through a server action rotates the token and keeps the data", async () => {
    const before = first.token();
    expect(before).toBeTruthy();
    const response = await signIn(first, "ada");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/");
    expect(first.token()).toBeTruthy();
    expect(first.token()).not.toBe(before);
    // The old token is worthless now: a request still carrying it is a stranger.
    const stale = await fetch(`${app.base}/api/me`, { headers: { cookie: `sid=${before}` } });
    expect(stale.status).toBe(401);
    expect(await stale.json()).toEqual({ error: "signed out", hits: 1 });

    const html = await first.text("/");
    expect(byId(html, "user")).toBe("user-ada");
    expect(byId(html, "name")).toBe("ada");
    expect(await (await first.fetch("/api/me")).json()).toEqual({ userId: "user-ada", name: "ada", hits: 3 });
  });

  it("middleware (proxy.js) routes on peek(): no cookie, no page", async () => {
    const anonymous = await fetch(`${app.base}/account`, { redirect: "manual" });
    expect(anonymous.status).toBe(307);
    expect(new URL(anonymous.headers.get("location") as string, app.base).pathname).toBe("/");
    const account = await first.fetch("/account");
    expect(account.status).toBe(200);
    expect(account.headers.get("x-peeked-name")).toBe("ada");
    expect(byId(await account.text(), "account")).toBe("account of user-ada");
  });

  it("revoked from another session, the first is refused", async () => {
    const second = a();
    expect((await signIn(second, "ada")).status).toBe(303);
    const firstId = byId(await first.text("/"), "session-id") as string;
    const html = await second.text("/");
    expect(byId(html, "user")).toBe("user-ada");
    const listed = devices(html);
    expect(listed).toHaveLength(2);
    expect(listed.find((d) => d.text.includes("this device"))?.id).not.toBe(firstId);

    const revoked = await second.post("/", actionId(html, `value="${firstId}"`));
    expect(revoked.status).toBe(303);

    expect(byId(await first.text("/"), "status")).toBe("signed out");
    // peek() cannot know: the proxy still lets the (signed, unexpired) cookie through, and the
    // page behind it, which reads the store, refuses.
    const account = await first.fetch("/account");
    expect(account.headers.get("x-peeked-name")).toBe("ada");
    expect(byId(await account.text(), "account")).toBe("refused");
    // A route handler that commits replaces the dead token with a fresh anonymous session.
    const me = await first.fetch("/api/me");
    expect(me.status).toBe(401);
    expect(await me.json()).toEqual({ error: "signed out", hits: 1 });
    // The other device is untouched.
    expect(devices(await second.text("/"))).toHaveLength(1);
  });

  it("sign-out through a server action clears the cookie", async () => {
    const second = a();
    await signIn(second, "bo");
    expect(second.token()).toBeTruthy();
    const out = await second.post("/", actionId(await second.text("/"), "Sign out"));
    expect(out.status).toBe(303);
    expect(second.setCookies.at(-1)).toMatch(/^sid=; .*Max-Age=0/i);
    expect(second.token()).toBeUndefined();
  });
});
