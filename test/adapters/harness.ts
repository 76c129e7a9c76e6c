import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { SessionStore } from "../../src/contract/store.js";
import { createSessions, type Sessions, type SessionsOptions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";

export const SECRET = "test-secret-that-is-at-least-32-bytes-long!!";

/** A memory store whose operations can be made to fail, to drive the 5xx paths. */
export function failingStore(): SessionStore & { failing: Set<string> } {
  const inner = memoryStore();
  const failing = new Set<string>();
  const wrapped = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "failing") return failing;
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop === "string" && typeof value === "function") {
        return (...args: unknown[]) => {
          if (failing.has(prop)) return Promise.reject(new Error(`injected ${prop} failure`));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value;
    },
  });
  return wrapped as SessionStore & { failing: Set<string> };
}

export interface TestSessions {
  sessions: Sessions<Record<string, unknown>>;
  store: SessionStore & { failing: Set<string> };
  clock: { now: number };
}

/** Sessions on a failing-capable memory store with a movable clock. */
export function makeSessions(options: Partial<SessionsOptions<Record<string, unknown>>> = {}): TestSessions {
  const store = failingStore();
  const clock = { now: Date.UTC(2026, 0, 1, 12) };
  const sessions = createSessions<Record<string, unknown>>({
    store,
    secrets: [SECRET],
    idleTimeout: "1h",
    absoluteTimeout: "1d",
    clock: () => clock.now,
    ...options,
  });
  return { sessions, store, clock };
}

/** Listens on 127.0.0.1 on a free port. */
export async function listen(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The cookie part of one Set-Cookie line, and its attributes by lowercased name. */
export function parseSetCookie(line: string): { name: string; value: string; attributes: Map<string, string> } {
  const [pair = "", ...rest] = line.split(";");
  const eq = pair.indexOf("=");
  const attributes = new Map<string, string>();
  for (const part of rest) {
    const [key = "", ...value] = part.trim().split("=");
    attributes.set(key.toLowerCase(), value.join("="));
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}

/** A browser's cookie jar, enough for one origin: stores what Set-Cookie says, sends it back. */
export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const response = await fetch(this.base + path, { redirect: "manual", ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      const { name, value, attributes } = parseSetCookie(line);
      if (value === "" || attributes.get("max-age") === "0") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  async json(path: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
    const response = await this.fetch(path, init);
    return (await response.json()) as Record<string, unknown>;
  }
}

/** Resolves every waiter once `count` arrivals happened: makes two requests overlap for sure. */
export function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return () => {
    arrived += 1;
    if (arrived >= count) open();
    return opened;
  };
}
