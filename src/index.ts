/**
 * sessionkit: server-side sessions for TypeScript web apps.
 * @packageDocumentation
 */

export type { Duration } from "./contract/duration.js";
export { parseDuration } from "./contract/duration.js";
export {
  SessionConfigError,
  SessionConflictError,
  SessionCookieTooLargeError,
  SessionDataTooLargeError,
  SessionError,
  SessionStateError,
  SessionStoreError,
} from "./contract/errors.js";
export type {
  InvalidationChannel,
  InvalidationListener,
  MigrateResult,
  SessionStore,
  StoredSession,
  StoredSessionInfo,
  StoreStats,
  UpdateOptions,
} from "./contract/store.js";
export { updateMessage } from "./contract/store.js";
export type { ResolvedConfig, SessionsOptions } from "./core/config.js";
export type { SessionEventName, SessionEvents, SessionListener } from "./core/events.js";
export type { Instrumentation, InstrumentedWork } from "./core/instrumentation.js";
export type { DataKey, LifetimeOptions, SessionData } from "./core/session.js";
export { Session } from "./core/session.js";
export type { HeaderReader, HeaderSource, LoadOptions, SessionInfo, Sessions } from "./core/sessions.js";
export { createSessions } from "./core/sessions.js";
export type { Secret } from "./crypto/keyring.js";
export type { RandomSource } from "./crypto/token.js";
export { applySessionHeaders } from "./http/apply-headers.js";
export type { CookieOptions } from "./http/cookie-options.js";
export type { Transport, TransportOption } from "./http/transport.js";
export { jsonSerializer } from "./serializers/json.js";
export type { Serializer, SerializerOption } from "./serializers/serializer.js";
export { structuredSerializer } from "./serializers/structured.js";
