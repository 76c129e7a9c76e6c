/** Timeout policy, in milliseconds; null = no such timeout. */
export interface ExpiryPolicy {
  idle: number | null;
  absolute: number | null;
  touchInterval: number;
}

/** expires_at = min(last active + idle, created + absolute); null when neither applies. */
export function expiresAt(policy: ExpiryPolicy, createdAt: number, lastActiveAt: number): number | null {
  const idle = policy.idle === null ? null : lastActiveAt + policy.idle;
  const absolute = policy.absolute === null ? null : createdAt + policy.absolute;
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
