/**
 * Valid, foreign and wrong-secret tokens for the fuzz campaigns, made through the public API
 * (and, for "a leaked signing key", the keyring the engine uses).
 */
import { parse as parseCookie } from "cookie";
import { createKeyring } from "../../src/crypto/keyring.js";
import { generateId, generateSecret, signToken } from "../../src/crypto/token.js";
import { createSessions, type SessionStore, type Sessions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import type { HostileInput, Seeds } from "./hostile.js";

export const FUZZ_SECRET = "fuzz-secret-0123456789abcdef0123456789abcdef";
const OTHER_SECRET = "other-secret-0123456789abcdef0123456789abcdef";

const cookieValue = (headers: Headers) => {
  const line = headers.getSetCookie()[0] ?? "";
  const pair = line.split(";")[0] as string;
  return pair.slice(pair.indexOf("=") + 1);
};

/**
 * Seeds live sessions in `store` through `sessions` (plain, with a user, with a cookie
 * payload when cookieKeys has "theme") and makes foreign and wrong-secret values.
 */
export async function makeSeeds(
  sessions: Sessions<Record<string, unknown>>,
  store: SessionStore,
  cookieName: string,
): Promise<Seeds> {
  const valid: string[] = [];
  const ids: string[] = [];
  const issue = async (using: Sessions<Record<string, unknown>>, user?: string) => {
    const s = await using.load(new Request("http://127.0.0.1/"));
    s.set("cart", ["apple"]);
    s.set("theme", "dark");
    if (user) await s.login(user);
    const value = cookieValue(await using.commit(s));
    return { value, id: s.id };
  };
  for (const user of [undefined, "alice", "bob", undefined]) {
    const { value, id } = await issue(sessions, user);
    valid.push(value);
    ids.push(id);
  }
  // Another app's secret, on the same store (ids the store knows) and on its own store.
  const foreign: string[] = [];
  for (const s of [store, memoryStore()]) {
    const other = createSessions<Record<string, unknown>>({
      store: s,
      secrets: [OTHER_SECRET],
      cookie: { secure: false },
      cookieKeys: ["theme"],
    });
    foreign.push((await issue(other, "mallory")).value, (await issue(other)).value);
  }
  // A correct signature under OUR key (as if the signing key leaked) on real ids, wrong secrets.
  const keyring = createKeyring([FUZZ_SECRET]);
  const wrongSecret = ids.map((id) => signToken({ id, secret: generateSecret() }, keyring));
  wrongSecret.push(signToken({ id: generateId(), secret: generateSecret() }, keyring));
  return { cookieName, valid, foreign, wrongSecret };
}

/** The token value the server's transports would read from `input` (cookie first, then Bearer), if any. */
export function effectiveToken(input: HostileInput, cookieName: string): string | undefined {
  if (input.cookie) {
    try {
      const value = parseCookie(input.cookie)[cookieName];
      if (value) return value;
    } catch {
      // an unparseable header carries no cookie
    }
  }
  const auth = input.headers.authorization;
  if (auth) return /^\s*Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  return undefined;
}
