import { describe, expect, it } from "vitest";
import { isUnsafeMethod, submittedCsrfToken } from "../../src/http/csrf.js";
import { makeSessions } from "./harness.js";

async function browserSession(t: ReturnType<typeof makeSessions>) {
  const session = await t.sessions.load(new Headers());
  const token = session.csrfToken();
  const cookie = ((await t.sessions.commit(session)).getSetCookie()[0] as string).split(";")[0] as string;
  return { token, headers: new Headers({ cookie }) };
}

describe("CSRF tokens", () => {
  it("are stable for a session, keep an anonymous session alive, and change when login rotates it", async () => {
    const t = makeSessions();
    const { token, headers } = await browserSession(t);
    const again = await t.sessions.load(headers);
    expect(again.isNew).toBe(false); // asking for a token stored the otherwise empty session
    expect(again.csrfToken()).toBe(token);
    expect(again.verifyCsrf(token)).toBe(true);
    await again.login("ada");
    expect(again.csrfToken()).not.toBe(token);
    expect(again.verifyCsrf(token)).toBe(false);
  });

  it("are checked by sessions.verifyCsrf from the cookie alone, without a store read", async () => {
    const t = makeSessions();
    const { token, headers } = await browserSession(t);
    for (const op of ["get", "update", "touch", "create"]) t.store.failing.add(op);
    expect(t.sessions.verifyCsrf(headers, token)).toBe(true);
    expect(t.sessions.verifyCsrf(headers, `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`)).toBe(false);
    expect(t.sessions.verifyCsrf(new Headers(), token)).toBe(false);
    expect(t.sessions.verifyCsrf(headers, undefined)).toBe(false);
  });

  it("belong to one session only", async () => {
    const t = makeSessions();
    const a = await browserSession(t);
    const b = await browserSession(t);
    expect(t.sessions.verifyCsrf(b.headers, a.token)).toBe(false);
  });

  it("are required for unsafe methods only, read from the header first, then the form field", () => {
    expect(["GET", "HEAD", "OPTIONS", "TRACE", "get"].map(isUnsafeMethod)).toEqual([false, false, false, false, false]);
    expect(["POST", "PUT", "PATCH", "DELETE", "PROPFIND"].map(isUnsafeMethod)).toEqual([true, true, true, true, true]);
    expect(submittedCsrfToken("h", { _csrf: "f" }, "_csrf")).toBe("h");
    expect(submittedCsrfToken(undefined, { _csrf: "f" }, "_csrf")).toBe("f");
    expect(submittedCsrfToken(["a", "b"], null, "_csrf")).toBeUndefined();
    expect(submittedCsrfToken(undefined, { _csrf: ["x"] }, "_csrf")).toBeUndefined();
  });
});
