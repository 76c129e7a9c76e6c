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

/** One view's own state; the Proxy handler is shared by every view (no closures per request). */
export interface ViewHandle {
  readonly state: RequestSessionState;
  readonly spec: ViewSpec;
  /** The proxy itself (`req.session`). */
  view: object;
  /** The data frozen by `detach()` (regenerate), or null while live. */
  detached: Record<string, unknown> | null;
  /** The adapter's `cookie` object, made on first use (most requests never look). */
  cookie: unknown;
  /** Functions handed out, made once per view (per session for the Session methods). */
  functions: Map<string, (...args: never[]) => unknown> | null;
  boundTo: Session<Record<string, unknown>> | null;
}

/** What an adapter adds to the view: its own methods and read-only properties. Defined once per adapter. */
export interface ViewSpec {
  adapter: string;
  /** Called with the view's handle first; `this`-free, so destructured calls work too. */
  methods: Record<string, (handle: ViewHandle, ...args: never[]) => unknown>;
  /** Read-only properties (`cookie`, `sessionId`, ...). */
  getters: Record<string, (handle: ViewHandle) => unknown>;
}

const reserved = (spec: ViewSpec, prop: string) =>
  prop === "id" ||
  prop === "sessionkit" ||
  SESSION_METHODS.has(prop) ||
  Object.hasOwn(spec.methods, prop) ||
  Object.hasOwn(spec.getters, prop);

function live(h: ViewHandle): Session<Record<string, unknown>> {
  if (h.detached) {
    throw new SessionStateError(
      `[sessionkit] [${h.spec.adapter}] this session object was replaced by regenerate(); use the new request session`,
    );
  }
  return h.state.session;
}
const read = (h: ViewHandle, key: string) => (h.detached ? h.detached[key] : h.state.session.get(key));
const holds = (h: ViewHandle, key: string) => (h.detached ? Object.hasOwn(h.detached, key) : h.state.session.has(key));
function write(h: ViewHandle, prop: string, value: unknown) {
  if (reserved(h.spec, prop)) {
    throw new TypeError(
      `[sessionkit] [${h.spec.adapter}] session.${prop} is part of the session API; store data under another name, or with session.set("${prop}", value)`,
    );
  }
  live(h).set(prop, value);
}

/** The function under `prop`, made on first read and kept (`req.session.get(...)` runs many times a request). */
function functionFor(h: ViewHandle, prop: string, make: () => (...args: never[]) => unknown) {
  h.functions ??= new Map();
  let fn = h.functions.get(prop);
  if (fn === undefined) {
    fn = make();
    h.functions.set(prop, fn);
  }
  return fn;
}

function sessionMethod(h: ViewHandle, prop: string) {
  const session = live(h);
  if (h.boundTo !== session) {
    // reload() replaced the session: forget what was bound to the old one.
    for (const name of SESSION_METHODS) h.functions?.delete(name);
    h.boundTo = session;
  }
  return functionFor(h, prop, () => (Reflect.get(session, prop, session) as (...a: never[]) => unknown).bind(session));
}

const handler: ProxyHandler<ViewHandle> = {
  get(h, prop) {
    if (typeof prop !== "string") return undefined;
    if (prop === "sessionkit") return live(h);
    const { spec } = h;
    // Own properties only: a data key such as "constructor" must not find Object.prototype's.
    if (Object.hasOwn(spec.getters, prop)) return h.detached ? undefined : spec.getters[prop]?.(h);
    if (Object.hasOwn(spec.methods, prop)) {
      const method = spec.methods[prop] as (handle: ViewHandle, ...args: never[]) => unknown;
      return functionFor(
        h,
        prop,
        () =>
          (...args: never[]) =>
            method(h, ...args),
      );
    }
    if (prop === "id") return h.detached ? undefined : h.state.session.id;
    if (SESSION_METHODS.has(prop)) return sessionMethod(h, prop);
    if (SESSION_FACTS.has(prop) && !holds(h, prop)) return h.detached ? undefined : Reflect.get(h.state.session, prop);
    return read(h, prop);
  },
  set(h, prop, value) {
    if (typeof prop !== "string") return false;
    write(h, prop, value);
    return true;
  },
  deleteProperty(h, prop) {
    if (typeof prop !== "string" || reserved(h.spec, prop)) return false;
    live(h).delete(prop);
    return true;
  },
  has(h, prop) {
    if (typeof prop !== "string") return false;
    return reserved(h.spec, prop) || SESSION_FACTS.has(prop) || holds(h, prop);
  },
  // Enumeration (Object.keys, for...in, spread, utils-merge) sees the data keys only.
  ownKeys(h) {
    return h.detached ? Object.keys(h.detached) : h.state.session.keys();
  },
  getOwnPropertyDescriptor(h, prop) {
    if (typeof prop !== "string" || !holds(h, prop)) return undefined;
    return { value: read(h, prop), writable: true, enumerable: true, configurable: true };
  },
  defineProperty(h, prop, descriptor) {
    if (typeof prop !== "string" || !("value" in descriptor)) return false;
    write(h, prop, descriptor.value);
    return true;
  },
  getPrototypeOf() {
    return null;
  },
};

/**
 * A proxy that is the sessionkit `Session` API plus express-session-style property access
 * to data keys. After `regenerate()` the old view is detached (`detach`): a read-only copy of
 * the old data, which is what Passport's `keepSessionInfo` copies back from.
 */
export function createCompatView(state: RequestSessionState, spec: ViewSpec): object {
  const handle: ViewHandle = {
    state,
    spec,
    view: null as unknown as object,
    detached: null,
    cookie: null,
    functions: null,
    boundTo: null,
  };
  handle.view = new Proxy(handle, handler);
  return handle.view;
}

/** Freezes a view on a copy of the current data (regenerate). */
export function detach(handle: ViewHandle): void {
  handle.detached = { ...(handle.state.session.toJSON() as Record<string, unknown>) };
}
