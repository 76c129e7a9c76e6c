import type { Lifetime } from "./envelope.js";

/** Timeout policy, in milliseconds; null = no such timeout. */
export interface ExpiryPolicy {
  idle: number | null;
  absolute: number | null;
  touchInterval: number;
}

/**
 * expires_at = min(last active + idle, created + absolute); null when neither applies. A
 * session's own lifetime (setLifetime) replaces the configured timeouts it names.
 */
export function expiresAt(
  policy: ExpiryPolicy,
  createdAt: number,
  lastActiveAt: number,
  lifetime: Lifetime | null = null,
): number | null {
  const idleMs = lifetime?.idle === undefined ? policy.idle : lifetime.idle;
  const absoluteMs = lifetime?.absolute === undefined ? policy.absolute : lifetime.absolute;
  const idle = idleMs === null ? null : lastActiveAt + idleMs;
  const absolute = absoluteMs === null ? null : createdAt + absoluteMs;
  if (idle === null) return absolute;
  if (absolute === null) return idle;
  return Math.min(idle, absolute);
}

export function isExpired(expiry: number | null, now: number): boolean {
  return expiry !== null && expiry <= now;
}

/** A touch (timestamps only) is due once `touchInterval` has passed since the last write. */
export function touchDue(policy: ExpiryPolicy, lastActiveAt: number, now: number): boolean {
  return now - lastActiveAt >= policy.touchInterval;
}
