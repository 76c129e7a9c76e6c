import { type Duration, parseDuration } from "../contract/duration.js";
import { SessionConfigError } from "../contract/errors.js";
import type { SessionStore } from "../contract/store.js";
import { createKeyring, type Keyring, type Secret } from "../crypto/keyring.js";
import { defaultRandom, type RandomSource } from "../crypto/token.js";
import type { CookieOptions } from "../http/cookie-options.js";
import { resolveTransports, type Transport, type TransportOption } from "../http/transport.js";
import { resolveSerializer } from "../serializers/resolve.js";
import type { Serializer, SerializerOption } from "../serializers/serializer.js";
import type { ExpiryPolicy } from "./expiry.js";
import type { Instrumentation } from "./instrumentation.js";
import type { CacheSettings } from "./near-cache.js";
import type { DataKey, SessionData } from "./session.js";

/** Options of {@link createSessions}. Only `store` and `secrets` are required. */
export interface SessionsOptions<Data extends SessionData = Record<string, unknown>> {
  /** Where sessions live: `memoryStore()`, `sqliteStore()`, `postgresStore()`, `mysqlStore()`, `redisStore()`. */
  store: SessionStore;
  /**
   * Secrets of at least 32 bytes. The first signs and encrypts; the others still verify and
   * decrypt, so a new secret can be put in front and an old one retired later.
   */
  secrets: readonly Secret[];
  /** Sliding inactivity timeout; `null` = none. @default "7d" */
  idleTimeout?: Duration | null;
  /** Lifetime from creation, whatever the activity; `null` = none. @default "30d" */
  absoluteTimeout?: Duration | null;
  /** Write last-active (and refresh the cookie) at most this often. @default "1m" */
  touchInterval?: Duration;
  /** Cookie attributes (cookie transport). */
  cookie?: CookieOptions;
  /** "cookie", `{ header: "authorization" }` (Bearer), `{ header: "x-session-token" }`, or a list. @default "cookie" */
  transport?: TransportOption | TransportOption[];
  /** "json", "structured" (v8: Date, Map, Set, BigInt...), or `{ encode, decode }`. @default "json" */
  serializer?: SerializerOption;
  /** Largest serialized data a session may hold; a larger commit throws and writes nothing. @default 262144 */
  maxDataBytes?: number;
  /** Data keys also carried, encrypted, in the cookie so `sessions.peek()` reads them without the store. @default [] */
  cookieKeys?: readonly DataKey<Data>[];
  /** Most sessions one user may hold; beyond it the least recently active are revoked at login. @default null */
  maxSessionsPerUser?: number | null;
  /** Run `prune()` in the background this often (with jitter); `null` = never. @default null */
  pruneInterval?: Duration | null;
  /** Rows deleted per prune batch. @default 1000 */
  pruneBatchSize?: number;
  /**
   * How long a commit keeps retrying when requests in other processes change the same session
   * at the same time (compare-and-set with jittered exponential backoff). Requests of one
   * session inside one process never conflict: their commits are queued. @default "2s"
   */
  retryBudget?: Duration;
  /**
   * The longest idle timeout `session.setLifetime()` may give a session ("remember me").
   * `null` = no bound. @default idleTimeout
   */
  maxIdleTimeout?: Duration | null;
  /** The longest absolute timeout `session.setLifetime()` may give a session. `null` = no bound. @default absoluteTimeout */
  maxAbsoluteTimeout?: Duration | null;
  /**
   * Near-cache: keep recently verified tokens and decoded rows in process memory, so a
   * read-only request of a cached session costs no store round trip, no HMAC, no decryption
   * and no parsing. Needs a store with an invalidation channel (memory, SQLite, Redis, PostgreSQL; MySQL within a bounded staleness):
   * every write, rotation, revoke, destroy and prune through any process with a cache empties
   * the entry in every process at once; a lost channel empties the cache and bypasses it until
   * it is back; entries are read again after `ttl` whatever happens. Every process that writes
   * sessions (app servers, scripts) must have it on, or use `maxEntries: 0` to publish only.
   * See docs/benchmarks.md and docs/near-cache.md. @default off
   */
  cache?: { maxEntries?: number; ttl?: Duration } | false | null;
  /** Current time in ms; inject one in tests to move time without sleeping. @default Date.now */
  clock?: () => number;
  /** Random bytes; inject one in tests for deterministic tokens. @default crypto.randomBytes */
  random?: RandomSource;
  /**
   * Tracing and metrics hooks, e.g. `openTelemetry()` from `sessionkit/otel`. See
   * docs/observability.md. @default none
   */
  instrumentation?: Instrumentation | null;
}

/** The frozen configuration an instance keeps. */
export interface ResolvedConfig {
  readonly store: SessionStore;
  readonly keyring: Keyring;
  readonly policy: ExpiryPolicy;
  readonly transports: readonly Transport[];
  readonly serializer: Serializer;
  readonly maxDataBytes: number;
  readonly cookieKeys: readonly string[];
  readonly maxSessionsPerUser: number | null;
  readonly pruneInterval: number | null;
  readonly pruneBatchSize: number;
  readonly retryBudget: number;
  /** Bounds of `setLifetime()`, in ms; null = unbounded. */
  readonly maxLifetime: { readonly idle: number | null; readonly absolute: number | null };
  readonly clock: () => number;
  readonly random: RandomSource;
  /** The near-cache settings, or null when off. */
  readonly cache: CacheSettings | null;
  /** The tracing and metrics hooks, or null. */
  readonly instrumentation: Instrumentation | null;
}

const positiveInt = (value: unknown, option: string, fallback: number): number => {
  if (value === undefined) return fallback;
  if (typeof value === "number" && Number.isInteger(value) && value > 0) return value;
  throw new SessionConfigError(`${option} must be a positive integer, got ${JSON.stringify(value)}`);
};

// A zero interval would prune in a tight loop; refuse it rather than guess what was meant.
const positiveInterval = (ms: number | null): number | null => {
  if (ms === 0)
    throw new SessionConfigError('pruneInterval must be longer than 0, e.g. "1h" (or null to never prune in the background)');
  return ms;
};

function resolveCache(option: SessionsOptions["cache"], store: SessionStore): CacheSettings | null {
  if (option === undefined || option === null || option === false) return null;
  if (typeof option !== "object") throw new SessionConfigError("cache must be { maxEntries?, ttl? } (or false)");
  if (!store.invalidation || typeof store.invalidation.subscribe !== "function") {
    throw new SessionConfigError(
      `cache needs a store with an invalidation channel (memory, sqlite, redis, postgres, mysql); the ${store.name} store has none, so a revoke in another process could not reach this cache`,
    );
  }
  const maxEntries = option.maxEntries ?? 10_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 0) {
    throw new SessionConfigError(`cache.maxEntries must be an integer of 0 or more, got ${JSON.stringify(option.maxEntries)}`);
  }
  const ttl = parseDuration(option.ttl ?? "10s", "cache.ttl");
  if (ttl === null || ttl <= 0) throw new SessionConfigError('cache.ttl must be a positive duration, e.g. "10s"');
  return Object.freeze({ maxEntries, ttl });
}

function resolveInstrumentation(option: SessionsOptions["instrumentation"]): Instrumentation | null {
  if (option === undefined || option === null) return null;
  if (typeof option !== "object")
    throw new SessionConfigError("instrumentation must be an object of hooks, e.g. openTelemetry()");
  for (const hook of ["around", "conflict", "event"] as const) {
    if (option[hook] !== undefined && typeof option[hook] !== "function") {
      throw new SessionConfigError(`instrumentation.${hook} must be a function`);
    }
  }
  return option;
}

/** Validates options into a frozen config; never mutates the caller's object. */
export function resolveConfig<Data extends SessionData>(options: SessionsOptions<Data>): ResolvedConfig {
  if (!options || typeof options !== "object") throw new SessionConfigError("createSessions needs an options object");
  const store = options.store;
  if (!store || typeof store.get !== "function" || typeof store.update !== "function") {
    throw new SessionConfigError("store is required, e.g. store: sqliteStore({ path: 'sessions.sqlite' })");
  }
  const idle = parseDuration(options.idleTimeout === undefined ? "7d" : options.idleTimeout, "idleTimeout");
  const absolute = parseDuration(options.absoluteTimeout === undefined ? "30d" : options.absoluteTimeout, "absoluteTimeout");
  const touchInterval = parseDuration(options.touchInterval ?? "1m", "touchInterval") ?? 60_000;
  const cookieKeys = [...(options.cookieKeys ?? [])];
  for (const key of cookieKeys) {
    if (typeof key !== "string" || key.length === 0) throw new SessionConfigError("cookieKeys must list data keys (strings)");
  }
  if ((options as { maxRetries?: unknown }).maxRetries !== undefined) {
    throw new SessionConfigError(
      'maxRetries was replaced by retryBudget (a time, e.g. retryBudget: "2s"): commits of one session in one process are queued, and across processes they retry within that time',
    );
  }
  const maxSessions = options.maxSessionsPerUser ?? null;
  if (maxSessions !== null) positiveInt(maxSessions, "maxSessionsPerUser", 1);
  return Object.freeze({
    store,
    keyring: createKeyring(options.secrets),
    policy: Object.freeze({ idle, absolute, touchInterval }),
    transports: Object.freeze(resolveTransports(options.transport, options.cookie)),
    serializer: resolveSerializer(options.serializer),
    maxDataBytes: positiveInt(options.maxDataBytes, "maxDataBytes", 256 * 1024),
    cookieKeys: Object.freeze(cookieKeys),
    maxSessionsPerUser: maxSessions,
    pruneInterval: positiveInterval(parseDuration(options.pruneInterval ?? null, "pruneInterval")),
    pruneBatchSize: positiveInt(options.pruneBatchSize, "pruneBatchSize", 1000),
    retryBudget: parseDuration(options.retryBudget ?? "2s", "retryBudget") as number,
    maxLifetime: Object.freeze({
      idle: options.maxIdleTimeout === undefined ? idle : parseDuration(options.maxIdleTimeout, "maxIdleTimeout"),
      absolute:
        options.maxAbsoluteTimeout === undefined ? absolute : parseDuration(options.maxAbsoluteTimeout, "maxAbsoluteTimeout"),
    }),
    clock: options.clock ?? Date.now,
    random: options.random ?? defaultRandom,
    cache: resolveCache(options.cache, store),
    instrumentation: resolveInstrumentation(options.instrumentation),
  });
}
