/** What each event carries. No event ever carries a token; `id` is the public handle. */
export interface SessionEvents {
  created: { id: string; userId: string | null };
  /** login() or rotate() gave the session a new secret; its id stays. */
  rotated: { id: string; userId: string | null; reason: "login" | "rotate" };
  destroyed: { id: string; userId: string | null };
  revoked: { id: string; userId: string | null; reason: "revoke" | "revoke-user" | "limit" };
  /** A session found expired on load (`id`), or a prune that deleted `count` rows. */
  expired: { id?: string; userId?: string | null; count?: number };
  /**
   * A commit dropped its request's changes: the session was destroyed, revoked or expired
   * meanwhile ("gone", the response clears the cookie), its row no longer decrypts
   * ("undecodable"), or another request signed in on it first ("superseded", the cookie is
   * left alone).
   */
  interrupted: { id: string; userId: string | null; reason: "gone" | "undecodable" | "superseded" };
  /**
   * A request carried a token that was not accepted. `reason`: "malformed" (not our format),
   * "bad-signature" (forged, or signed by a retired secret), "unknown" (never issued, expired
   * or revoked), "undecodable" (the stored row no longer decrypts or deserializes). Count
   * these per IP to spot token guessing.
   */
  "invalid-token": {
    reason: "malformed" | "bad-signature" | "unknown" | "undecodable";
    id?: string;
    ip: string | null;
    userAgent: string | null;
  };
  /** A background task (the prune scheduler) failed. */
  error: { operation: string; error: unknown };
}

export type SessionEventName = keyof SessionEvents;
export type SessionListener<E extends SessionEventName> = (payload: SessionEvents[E]) => void;

/**
 * A tiny typed emitter. A listener that throws is reported, never breaks the request. `tap`
 * sees every event (the instrumentation's counters) without counting as a listener for `has`,
 * so it never makes the core do extra store reads to fill a payload.
 */
export function createEmitter(tap?: <E extends SessionEventName>(event: E, payload: SessionEvents[E]) => void) {
  const listeners = new Map<SessionEventName, Set<(payload: never) => void>>();
  return {
    on<E extends SessionEventName>(event: E, listener: SessionListener<E>): () => void {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(listener as (payload: never) => void);
      return () => set.delete(listener as (payload: never) => void);
    },
    has(event: SessionEventName): boolean {
      return (listeners.get(event)?.size ?? 0) > 0;
    },
    emit<E extends SessionEventName>(event: E, payload: SessionEvents[E]): void {
      if (tap) {
        try {
          tap(event, payload);
        } catch (error) {
          console.error(`[sessionkit] the instrumentation's "event" hook threw on "${event}"; the request went on:`, error);
        }
      }
      for (const listener of listeners.get(event) ?? []) {
        try {
          (listener as SessionListener<E>)(payload);
        } catch (error) {
          console.error(`[sessionkit] a "${event}" listener threw; the request went on:`, error);
        }
      }
    },
  };
}
