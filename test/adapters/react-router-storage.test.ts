import { createSession } from "react-router";
import { describe, expect, it } from "vitest";
import { createSessionkitStorage } from "../../src/adapters/react-router.js";
import { createSessions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";

const SECRET = "react-router-storage-test-secret-32-bytes!!";

function storage() {
  const sessions = createSessions<Record<string, unknown>>({
    store: memoryStore(),
    secrets: [SECRET],
    cookie: { secure: false },
  });
  return { sessions, ...createSessionkitStorage(sessions) };
}

const cookieOf = (line: string) => line.split(";")[0] as string;

describe("sessionkit/react-router storage", () => {
  it("an unchanged session commits nothing: empty string, no store write", async () => {
    const { getSession, commitSession } = storage();
    const session = await getSession(null);
    expect(await commitSession(session)).toBe("");
  });

  it("changes made through sessionOf() survive the commit of the React Router session", async () => {
    const { getSession, commitSession, sessionOf } = storage();
    const first = await getSession();
    first.set("a", 1);
    const line = await commitSession(first);
    const again = await getSession(cookieOf(line));
    sessionOf(again).set("b", 2); // not in again.data: must not be deleted by the sync
    again.unset("a");
    await commitSession(again);
    const third = await getSession(cookieOf(line));
    expect(third.data).toEqual({ b: 2 });
  });

  it("takes the whole Request and records its user agent", async () => {
    const { getSession, commitSession, sessionOf, sessions } = storage();
    const session = await getSession(new Request("http://localhost/", { headers: { "user-agent": "probe/1.0" } }));
    await sessionOf(session).login("user-1");
    await commitSession(session);
    const [info] = await sessions.list("user-1");
    expect(info?.userAgent).toBe("probe/1.0");
  });

  it("refuses a session it did not create, with a message that says so", async () => {
    const { commitSession, destroySession, sessionOf } = storage();
    const foreign = createSession({ a: 1 }, "x");
    await expect(commitSession(foreign)).rejects.toThrow(/\[sessionkit\] \[react-router\] commitSession\(\) takes a session/);
    await expect(destroySession(foreign)).rejects.toThrow(/destroySession\(\)/);
    expect(() => sessionOf(foreign)).toThrow(/sessionOf\(\)/);
  });
});
