import { type Attributes, type Meter, metrics, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { SessionEventName, SessionEvents } from "../core/events.js";
import type { Instrumentation, InstrumentedWork } from "../core/instrumentation.js";

/** Options of {@link openTelemetry}. */
export interface OpenTelemetryOptions {
  /** Where spans go. @default trace.getTracer("sessionkit") (the global tracer provider) */
  tracer?: Tracer;
  /** Where metrics go. @default metrics.getMeter("sessionkit") (the global meter provider) */
  meter?: Meter;
}

// Store latencies are mostly sub-millisecond (memory, near-cache misses on a local SQLite) to
// tens of milliseconds (a remote database): the default OpenTelemetry buckets (0, 5, 10, 25...)
// would put nearly every call in the first one.
const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** What a span or metric may say about a failure: its class and code, never its message. */
function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? `${error.name}:${code}` : error.name;
  }
  return typeof error;
}

/**
 * OpenTelemetry spans and metrics for sessions, through `@opentelemetry/api` (an optional peer
 * dependency: install it, and an SDK, to use this entry).
 *
 * Spans: `sessionkit.load`, `sessionkit.commit`, and `sessionkit.store.<operation>` for every
 * store call, with the attributes `sessionkit.store`, `sessionkit.operation` and
 * `sessionkit.outcome` ("ok" or "error", plus `error.type` on failure). Metrics: counters of
 * sessions created, rotated, destroyed, revoked, expired and interrupted, of invalid tokens
 * by `reason`, of commit conflicts and retries, and the `sessionkit.store.duration` histogram
 * (ms). No attribute ever holds a token, a secret, a session id, a user id, an IP, a user
 * agent or an error message (driver messages can quote the values of a query).
 *
 * @example
 * ```ts
 * import { createSessions } from "sessionkit";
 * import { openTelemetry } from "sessionkit/otel";
 *
 * const sessions = createSessions({
 *   store,
 *   secrets: [process.env.SESSION_SECRET!],
 *   instrumentation: openTelemetry(),
 * });
 * ```
 */
export function openTelemetry({
  tracer = trace.getTracer("sessionkit"),
  meter = metrics.getMeter("sessionkit"),
}: OpenTelemetryOptions = {}): Instrumentation {
  const counter = (name: string, description: string) => meter.createCounter(name, { description, unit: "{session}" });
  const created = counter("sessionkit.sessions.created", "Sessions created (first commit of a new session)");
  const rotated = counter("sessionkit.sessions.rotated", "Sessions given a new secret, by reason (login, rotate)");
  const destroyed = counter("sessionkit.sessions.destroyed", "Sessions destroyed by session.destroy()");
  const revoked = counter("sessionkit.sessions.revoked", "Sessions revoked, by reason (revoke, revoke-user, limit)");
  const expired = counter("sessionkit.sessions.expired", "Sessions found expired on load or deleted by prune, by source");
  const interrupted = counter(
    "sessionkit.sessions.interrupted",
    "Commits whose changes were dropped, by reason (gone, undecodable, superseded)",
  );
  const invalidTokens = meter.createCounter("sessionkit.tokens.invalid", {
    description: "Requests with a token that was not accepted, by reason (malformed, bad-signature, unknown, undecodable)",
    unit: "{token}",
  });
  const conflicts = meter.createCounter("sessionkit.commit.conflicts", {
    description: "Compare-and-set writes lost to another process; attribute retrying=false when the commit gave up",
    unit: "{conflict}",
  });
  const retries = meter.createCounter("sessionkit.commit.retries", {
    description: "Commit attempts after a conflict",
    unit: "{retry}",
  });
  const backgroundErrors = meter.createCounter("sessionkit.background.errors", {
    description: "Failures of background work (prune scheduler, near-cache invalidation, session limit), by operation",
    unit: "{error}",
  });
  const storeDuration = meter.createHistogram("sessionkit.store.duration", {
    description: "Duration of store calls, by store, operation and outcome",
    unit: "ms",
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });

  // Only the fields listed here reach an attribute; ids, user ids, IPs and user agents never do.
  function event<E extends SessionEventName>(name: E, payload: SessionEvents[E]): void {
    switch (name) {
      case "created":
        created.add(1);
        break;
      case "rotated":
        rotated.add(1, { reason: (payload as SessionEvents["rotated"]).reason });
        break;
      case "destroyed":
        destroyed.add(1);
        break;
      case "revoked":
        revoked.add(1, { reason: (payload as SessionEvents["revoked"]).reason });
        break;
      case "expired": {
        const { count } = payload as SessionEvents["expired"];
        if (count === undefined) expired.add(1, { source: "load" });
        else if (count > 0) expired.add(count, { source: "prune" });
        break;
      }
      case "interrupted":
        interrupted.add(1, { reason: (payload as SessionEvents["interrupted"]).reason });
        break;
      case "invalid-token":
        invalidTokens.add(1, { reason: (payload as SessionEvents["invalid-token"]).reason });
        break;
      case "error":
        backgroundErrors.add(1, { operation: (payload as SessionEvents["error"]).operation });
        break;
    }
  }

  return {
    around<T>(work: InstrumentedWork, run: () => Promise<T>): Promise<T> {
      const operation = work.kind === "store" ? work.operation : work.kind;
      const name = work.kind === "store" ? `sessionkit.store.${work.operation}` : `sessionkit.${work.kind}`;
      const attributes: Attributes = { "sessionkit.store": work.store, "sessionkit.operation": operation };
      // startActiveSpan: with a context manager registered, store spans nest under load/commit.
      return tracer.startActiveSpan(name, { attributes }, async (span) => {
        const started = performance.now();
        try {
          const result = await run();
          span.setAttribute("sessionkit.outcome", "ok");
          if (work.kind === "store")
            storeDuration.record(performance.now() - started, { ...attributes, "sessionkit.outcome": "ok" });
          return result;
        } catch (error) {
          const type = errorType(error);
          span.setAttributes({ "sessionkit.outcome": "error", "error.type": type });
          span.setStatus({ code: SpanStatusCode.ERROR });
          if (work.kind === "store") {
            storeDuration.record(performance.now() - started, { ...attributes, "sessionkit.outcome": "error" });
          }
          throw error;
        } finally {
          span.end();
        }
      });
    },
    conflict({ retrying }) {
      conflicts.add(1, { retrying });
      if (retrying) retries.add(1);
    },
    event,
  };
}
