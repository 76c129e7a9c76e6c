import type { SessionStore, SessionsOptions } from "../../src/index.js";
import { createSessions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";

export const SECRET = "test-secret-0123456789abcdef0123456789abcdef";
export const OLD_SECRET = "old-secret-0123456789abcdef0123456789abcdef";
export const T0 = 1_700_000_000_000;

/** Wraps a store and counts every call, so tests can assert "no store access" / "no write". */
export function spyStore(inner: SessionStore = memoryStore()) {
  const calls: string[] = [];
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const writes = () => calls.filter((c) => !["get", "listByUser", "stats"].includes(c));
  return { store, calls, writes, reset: () => calls.splice(0) };
}

/** A sessions instance on a spied memory store with a movable clock. */
export function setup<Data extends object = Record<string, unknown>>(options: Partial<SessionsOptions<Data>> = {}) {
  const clock = { now: T0 };
  const spy = spyStore(options.store);
  const sessions = createSessions<Data>({
    secrets: [SECRET],
    clock: () => clock.now,
    ...options,
    store: spy.store,
  });
  return { sessions, clock, spy, store: spy.store };
}

/** The `name=value` part of the Set-Cookie in `headers` (what a browser sends back). */
export function cookieOf(headers: Headers): string {
  const line = headers.getSetCookie()[0];
  if (!line) throw new Error("no Set-Cookie in response");
  return line.split(";")[0] as string;
}

export function requestWith(cookie: string | null, extra: Record<string, string> = {}): Request {
  return new Request("http://localhost/", { headers: { ...(cookie ? { cookie } : {}), ...extra } });
}
