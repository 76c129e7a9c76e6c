/** The demo at the HTTP level (no browser): CSRF refusals, sign-in rotation, sign-out, revoke rules, escaping. */
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csrfOf, type RunningDemo, signInAgent, startDemo } from "./harness.js";

let running: RunningDemo;
beforeAll(async () => {
  running = await startDemo();
});
afterAll(async () => {
  await running?.close();
});

const sidOf = (setCookie: string[] | string | undefined): string | undefined => {
  const lines = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return lines.find((line) => line.startsWith("sid="));
};

/** A client with its own cookie jar, signed in as `user`; returns the agent and a fresh CSRF token. */
async function signedIn(user: string, userAgent = "demo-http-test") {
  const agent = await signInAgent(running.url, user, userAgent);
  const home = await agent.get("/").set("user-agent", userAgent).expect(200);
  expect(home.text).toContain("Signed in as");
  return { agent, csrf: csrfOf(home.text) };
}

describe("demo over HTTP", () => {
  it("keep me signed in: a 30-day cookie and session; without it a browser-session cookie", async () => {
    for (const remember of [true, false]) {
      const agent = request.agent(running.url);
      const form = await agent.get("/signin").expect(200);
      expect(form.text).toContain('name="remember"');
      const signIn = await agent
        .post("/signin")
        .type("form")
        .send({ user: "ada", _csrf: csrfOf(form.text), ...(remember ? { remember: "1" } : {}) })
        .expect(303);
      const cookie = sidOf(signIn.headers["set-cookie"]) as string;
      if (remember) expect(cookie).toMatch(/; Max-Age=2592000;/);
      else expect(cookie).not.toMatch(/Max-Age|Expires/);
      const devices = await agent.get("/devices").expect(200);
      expect(devices.text).toContain("this device");
    }
  });

  it("refuses a form post without the CSRF token, or with another session's, and changes nothing", async () => {
    const agent = request.agent(running.url);
    await agent.get("/signin").expect(200);
    const missing = await agent.post("/signin").type("form").send({ user: "ada" });
    expect(missing.status).toBe(403);
    expect(missing.text).toContain("Form refused");

    const other = await request(running.url).get("/signin").expect(200);
    const foreign = await agent
      .post("/signin")
      .type("form")
      .send({ user: "ada", _csrf: csrfOf(other.text) });
    expect(foreign.status).toBe(403);

    const home = await agent.get("/").expect(200);
    expect(home.text).toContain("Not signed in");
  });

  it("signing in replaces the session cookie; the cookie is HttpOnly, SameSite=Lax, not Secure on plain http", async () => {
    const agent = request.agent(running.url);
    const form = await agent.get("/signin").expect(200);
    const before = sidOf(form.headers["set-cookie"]);
    expect(before).toBeDefined();
    const signIn = await agent
      .post("/signin")
      .type("form")
      .send({ user: "grace", _csrf: csrfOf(form.text) })
      .expect(303);
    expect(signIn.headers.location).toBe("/");
    const after = sidOf(signIn.headers["set-cookie"]);
    expect(after).toBeDefined();
    expect(after?.split(";")[0]).not.toBe(before?.split(";")[0]);
    expect(after).toMatch(/; HttpOnly/);
    expect(after).toMatch(/; SameSite=Lax/);
    expect(after).not.toMatch(/; Secure/);

    // The pre-sign-in token no longer works.
    const replay = await request(running.url)
      .get("/")
      .set("cookie", (before as string).split(";")[0] as string)
      .expect(200);
    expect(replay.text).toContain("Not signed in");
  });

  it("sign out deletes the session on the server, so the old cookie is worthless", async () => {
    const { agent, csrf } = await signedIn("katherine");
    const home = await agent.get("/").expect(200);
    expect(home.text).toContain("Signed in as <strong>Katherine Johnson</strong>");
    const [mine] = await running.demo.sessions.list("katherine");
    expect(mine).toBeDefined();

    const out = await agent.post("/signout").type("form").send({ _csrf: csrf }).expect(303);
    expect(out.headers.location).toBe("/?bye");
    expect(sidOf(out.headers["set-cookie"])).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
    expect(await running.demo.sessions.list("katherine")).toEqual([]);
  });

  it("a user can revoke only their own sessions", async () => {
    const ada = await signedIn("ada");
    await signedIn("alan");
    const [alanSession] = await running.demo.sessions.list("alan");
    expect(alanSession).toBeDefined();

    const devices = await ada.agent.get("/devices").expect(200);
    await ada.agent
      .post("/devices/revoke")
      .type("form")
      .send({ id: alanSession?.id, _csrf: csrfOf(devices.text) })
      .expect(303);
    expect((await running.demo.sessions.list("alan")).map((s) => s.id)).toContain(alanSession?.id);
    const after = await ada.agent.get("/devices").expect(200);
    expect(after.text).toContain("That device is no longer signed in.");
  });

  it("escapes what the client controls: a hostile User-Agent is shown as text", async () => {
    const hostile = '<script>alert("ua")</script><img src=x onerror=alert(1)>';
    const { agent } = await signedIn("ada", hostile);
    const devices = await agent.get("/devices").set("user-agent", hostile).expect(200);
    expect(devices.text).not.toContain("<script>alert");
    expect(devices.text).not.toContain("<img src=x");
    expect(devices.text).toContain("&lt;script&gt;");
  });

  it("pages are never cached and carry a content security policy", async () => {
    const home = await request(running.url).get("/").expect(200);
    expect(home.headers["cache-control"]).toBe("no-store");
    expect(home.headers["content-security-policy"]).toContain("default-src 'none'");
    await request(running.url).get("/nope").expect(404);
  });
});
