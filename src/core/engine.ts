import { parseDuration } from "../contract/duration.js";
import { SessionConfigError, SessionError, SessionStoreError } from "../contract/errors.js";
import { type SessionStore, updateMessage } from "../contract/store.js";
import { generateId, generateSecret, hashSecret, safeEqual } from "../crypto/token.js";
import { varyFor } from "../http/response-headers.js";
import { type Codec, createCodec } from "./codec.js";
import type { ResolvedConfig } from "./config.js";
import type { Lifetime } from "./envelope.js";
import { createEmitter } from "./events.js";
import type { InstrumentedWork } from "./instrumentation.js";
import { NearCache } from "./near-cache.js";
import type { LifetimeOptions, SessionContext } from "./session.js";

/** What load, commit and management share: the config, the codec, the events, and store calls. */
export interface Engine {
  readonly config: ResolvedConfig;
  readonly store: SessionStore;
  readonly codec: Codec;
  readonly events: ReturnType<typeof createEmitter>;
  readonly context: SessionContext;
  /** The Vary value of every session response. */
  readonly vary: string;
  /** Runs a store call; any failure becomes one SessionStoreError keeping the cause. */
  call<T>(operation: string, run: () => Promise<T>): Promise<T>;
  /** Runs `run` inside the instrumentation's `around` hook (as is, without one). */
  traced<T>(work: InstrumentedWork, run: () => Promise<T>): Promise<T>;
  /** The cookieKeys values of `data` as the cookie carries them, or null without cookieKeys. */
  cookiePayloadOf(data: Record<string, unknown>): string | null;
  /** The near-cache, or null when `cache` is off. */
  readonly cache: NearCache | null;
  /**
   * After a store write of these sessions (or of any, "all"): drops them from this process's
   * cache and tells every other process through the store's channel. Resolves to the error
   * when the channel did not take the message (also reported on the `error` event), else
   * null; never rejects, because the write it follows has already happened. A no-op without
   * a cache. `version`: an update of the one id wrote this version, and the message says so
   * (`updateMessage`), so a cache that holds exactly that version (the writer's, after
   * write-through) keeps it. This process's cache is updated before the first await: a caller
   * may act on it before the publish has finished.
   */
  changed(ids: readonly string[] | "all", version?: number): Promise<SessionStoreError | null>;
}

export function createEngine(config: ResolvedConfig): Engine {
  const { store } = config;
  const codec = createCodec(config.keyring, config.serializer, config.random);
  const hooks = config.instrumentation;
  const events = createEmitter(hooks?.event ? (name, payload) => hooks.event?.(name, payload) : undefined);
  const traced = <T>(work: InstrumentedWork, run: () => Promise<T>): Promise<T> =>
    hooks?.around ? hooks.around(work, run) : run();
  const cache =
    config.cache && store.invalidation ? new NearCache(config.cache, store.invalidation, config.serializer, config.clock) : null;
  cache?.start();

  function bound(value: number | null, max: number | null, option: "idle" | "absolute"): number | null {
    if (max === null) return value;
    if (value === null || value > max) {
      const name = option === "idle" ? "maxIdleTimeout" : "maxAbsoluteTimeout";
      throw new SessionConfigError(
        `setLifetime({ ${option} }) asks for ${value === null ? "no timeout" : `${value} ms`}, beyond ${name} (${max} ms). Raise ${name} in createSessions() to allow it.`,
      );
    }
    return value;
  }

  const context: SessionContext = {
    now: config.clock,
    newId: () => generateId(config.random),
    newSecret: () => generateSecret(config.random),
    hashSecret,
    csrfFor: codec.csrfFor,
    checkCsrf: (id, secretHash, token) => {
      let ok = false;
      for (const candidate of codec.csrfCandidates(id, secretHash)) ok = safeEqual(token, candidate) || ok;
      return ok;
    },
    resolveLifetime(options: LifetimeOptions): Lifetime {
      if (!options || typeof options !== "object") {
        throw new TypeError("[sessionkit] setLifetime() takes { idle?, absolute?, persistent? }");
      }
      const out: Lifetime = {};
      if (options.persistent !== undefined) {
        if (typeof options.persistent !== "boolean") {
          throw new TypeError("[sessionkit] setLifetime({ persistent }) takes true or false");
        }
        out.persistent = options.persistent;
      }
      if (options.idle !== undefined) out.idle = bound(parseDuration(options.idle, "idle"), config.maxLifetime.idle, "idle");
      if (options.absolute !== undefined) {
        out.absolute = bound(parseDuration(options.absolute, "absolute"), config.maxLifetime.absolute, "absolute");
      }
      return out;
    },
  };

  async function untraced<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof SessionError) throw error;
      throw new SessionStoreError(store.name, operation, error);
    }
  }
  const call = <T>(operation: string, run: () => Promise<T>): Promise<T> =>
    traced({ kind: "store", store: store.name, operation }, () => untraced(operation, run));

  return {
    config,
    store,
    codec,
    cache,
    async changed(ids, version) {
      if (cache === null) return null;
      const message = version !== undefined && ids !== "all" && ids.length === 1 ? updateMessage(ids[0] as string, version) : ids;
      if (message === "all") cache.invalidateAll();
      else if (message.length === 0) return null;
      else cache.invalidate(message);
      try {
        await call("publish", () => cache.channel.publish(message));
        return null;
      } catch (error) {
        // Other processes' caches may serve these sessions until their ttl: say so, but do
        // not fail a commit whose write (and new token) already happened.
        const failure = error instanceof SessionStoreError ? error : new SessionStoreError(store.name, "publish", error);
        events.emit("error", { operation: "near-cache invalidation", error: failure });
        return failure;
      }
    },
    events,
    context,
    vary: varyFor(config.transports),
    call,
    traced,
    cookiePayloadOf(data) {
      if (config.cookieKeys.length === 0) return null;
      const picked: Record<string, unknown> = {};
      for (const key of config.cookieKeys) if (Object.hasOwn(data, key)) picked[key] = data[key];
      return JSON.stringify(picked);
    },
  };
}
