import type { SessionEventName, SessionEvents } from "./events.js";

/**
 * A unit of work an {@link Instrumentation} sees: a whole `load()` or `commit()`, or one store
 * call inside them (or inside list, revoke, prune, stats, close). `store` is the store's name.
 */
export type InstrumentedWork =
  | { readonly kind: "load"; readonly store: string }
  | { readonly kind: "commit"; readonly store: string }
  | { readonly kind: "store"; readonly store: string; readonly operation: string };

/**
 * Hooks for tracing and metrics, independent of any telemetry library (`sessionkit/otel`
 * builds one for OpenTelemetry). Every member is optional.
 *
 * Nothing here carries a token or a secret; `event` payloads carry the session's public id
 * and user id, which an instrumentation must not put into span or metric attributes.
 */
export interface Instrumentation {
  /**
   * Runs around each unit of work. It must call `run` exactly once and return (or throw)
   * what `run` gives; an exception thrown by `run` is the work's failure.
   */
  around?<T>(work: InstrumentedWork, run: () => Promise<T>): Promise<T>;
  /**
   * A commit's compare-and-set write lost to a write of another process. `retrying`: whether
   * the commit tries again (false: the retry budget is spent and it throws SessionConflictError).
   */
  conflict?(info: { readonly attempt: number; readonly retrying: boolean }): void;
  /** Every event the sessions emit, as `on()` listeners get it (also with no listener). */
  event?<E extends SessionEventName>(name: E, payload: SessionEvents[E]): void;
}

/** Calls a notification hook; a hook that throws is reported, never breaks the request. */
export function notify(hook: string, call: () => void): void {
  try {
    call();
  } catch (error) {
    console.error(`[sessionkit] the instrumentation's "${hook}" hook threw; the request went on:`, error);
  }
}
