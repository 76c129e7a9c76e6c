import { SessionStateError } from "../contract/errors.js";
import type { Session } from "../core/session.js";
import type { RequestSessionState } from "./compat-session.js";

/** Methods of the sessionkit `Session`: always the API, never data. */
const SESSION_METHODS = new Set([
  "get",
  "set",
  "has",
  "delete",
  "clear",
  "keys",
  "toJSON",
  "login",
  "rotate",
  "destroy",
  "csrfToken",
  "verifyCsrf",
  "setLifetime",
]);

/**
 * Properties of the sessionkit `Session` that are also common data names in express-session
 * apps (`req.session.userId = user.id` is the canonical example). Writing one stores data,
 * as express-session does, and from then on the view reads the data; the engine's value stays
 * at `req.session.sessionkit.<name>`.
 */
const SESSION_FACTS = new Set<string>([
  "userId",
  "isNew",
  "authenticatedAt",
  "interrupted",
  "createdAt",
  "lastActiveAt",
  "expiresAt",
  "ip",
  "userAgent",
  "meta",
  "destroyed",
  "lifetime",
] satisfies SessionFactName[]);

/** The `Session` properties a compat view lets data shadow (see SESSION_FACTS). */
export type SessionFactName =
  | "userId"
  | "isNew"
  | "authenticatedAt"
  | "interrupted"
  | "createdAt"
  | "lastActiveAt"
  | "expiresAt"
  | "ip"
  | "userAgent"
  | "meta"
  | "destroyed"
  | "lifetime";

/**
 * Those properties as a compat view types them: writable and deletable, as they are in an
 * express-session app (`req.session.userId = user.id`), holding the engine's value until
 * data is written under the name.
 */
export type WritableFacts<Data extends object> = {
  -readonly [K in SessionFactName]?: Session<Data>[K] | (K extends keyof Data ? Data[K] : never);
};

/** What an adapter adds to the view: its own methods and read-only properties. */
export interface ViewSpec {
  adapter: string;
  /** Called with the view itself first; `this`-free, so destructured calls work too. */
  methods: Record<string, (view: object, ...args: never[]) => unknown>;
  /** Read-only properties (`cookie`, `sessionId`, ...). */
  getters: Record<string, () => unknown>;
}

/**
 * A proxy that is the sessionkit `Session` API plus express-session-style property access
 * to data keys. After `regenerate()` the old view is detached: a read-only copy of the old
 * data, which is what Passport's `keepSessionInfo` copies back from.
 */
export function createCompatView(state: RequestSessionState, spec: ViewSpec): { view: object; detach(): void } {
  let detached: Record<string, unknown> | null = null;
  const reserved = (prop: string) =>
    prop === "id" ||
    prop === "sessionkit" ||
    SESSION_METHODS.has(prop) ||
    Object.hasOwn(spec.methods, prop) ||
    Object.hasOwn(spec.getters, prop);

  const live = (): Session<Record<string, unknown>> => {
    if (detached) {
      throw new SessionStateError(
        `[sessionkit] [${spec.adapter}] this session object was replaced by regenerate(); use the new request session`,
      );
    }
    return state.session;
  };
  const read = (key: string) => (detached ? detached[key] : state.session.get(key));
  const holds = (key: string) => (detached ? Object.hasOwn(detached, key) : state.session.has(key));
  const dataKeys = () => (detached ? Object.keys(detached) : state.session.keys());
  const write = (prop: string, value: unknown) => {
    if (reserved(prop)) {
      throw new TypeError(
        `[sessionkit] [${spec.adapter}] session.${prop} is part of the session API; store data under another name, or with session.set("${prop}", value)`,
      );
    }
    live().set(prop, value);
  };

  // Functions handed out, made once per view (per session for the Session methods), not per
  // property read: `req.session.get(...)` runs many times a request.
  const adapterMethods = new Map<string, (...args: never[]) => unknown>();
  let boundTo: Session<Record<string, unknown>> | null = null;
  const bound = new Map<string, (...args: unknown[]) => unknown>();
  const sessionMethod = (prop: string) => {
    const session = live();
    if (boundTo !== session) {
      bound.clear(); // reload() replaced the session
      boundTo = session;
    }
    let fn = bound.get(prop);
    if (fn === undefined) {
      fn = (Reflect.get(session, prop, session) as (...a: unknown[]) => unknown).bind(session);
      bound.set(prop, fn);
    }
    return fn;
  };

  const view: object = new Proxy(Object.create(null) as object, {
    get(_target, prop) {
      if (typeof prop !== "string") return undefined;
      if (prop === "sessionkit") return live();
      // Own properties only: a data key such as "constructor" must not find Object.prototype's.
      const getter = Object.hasOwn(spec.getters, prop) ? spec.getters[prop] : undefined;
      if (getter) return detached ? undefined : getter();
      const method = Object.hasOwn(spec.methods, prop) ? spec.methods[prop] : undefined;
      if (method) {
        let fn = adapterMethods.get(prop);
        if (fn === undefined) {
          fn = (...args: never[]) => method(view, ...args);
          adapterMethods.set(prop, fn);
        }
        return fn;
      }
      if (prop === "id") return detached ? undefined : state.session.id;
      if (SESSION_METHODS.has(prop)) return sessionMethod(prop);
      if (SESSION_FACTS.has(prop) && !holds(prop)) return detached ? undefined : Reflect.get(state.session, prop);
      return read(prop);
    },
    set(_target, prop, value) {
      if (typeof prop !== "string") return false;
      write(prop, value);
      return true;
    },
    deleteProperty(_target, prop) {
      if (typeof prop !== "string" || reserved(prop)) return false;
      live().delete(prop);
      return true;
    },
    has(_target, prop) {
      if (typeof prop !== "string") return false;
      return reserved(prop) || SESSION_FACTS.has(prop) || holds(prop);
    },
    // Enumeration (Object.keys, for...in, spread, utils-merge) sees the data keys only.
    ownKeys() {
      return dataKeys();
    },
    getOwnPropertyDescriptor(_target, prop) {
      if (typeof prop !== "string" || !holds(prop)) return undefined;
      return { value: read(prop), writable: true, enumerable: true, configurable: true };
    },
    defineProperty(_target, prop, descriptor) {
      if (typeof prop !== "string" || !("value" in descriptor)) return false;
      write(prop, descriptor.value);
      return true;
    },
  });

  return {
    view,
    /** Freezes this view on a copy of the current data (regenerate). */
    detach() {
      detached = { ...(state.session.toJSON() as Record<string, unknown>) };
    },
  };
}
