import type { InvalidationChannel, InvalidationListener } from "../contract/store.js";

/**
 * An invalidation channel inside one process (the memory store's): every `createSessions`
 * on the same store object hears every publish, synchronously, before `publish()` returns.
 */
export function localChannel(): InvalidationChannel & { readonly listeners: ReadonlySet<InvalidationListener> } {
  const listeners = new Set<InvalidationListener>();
  return {
    synchronous: true,
    listeners,
    subscribe(listener) {
      listeners.add(listener);
      listener.state(true);
      return async () => {
        if (listeners.delete(listener)) listener.state(false);
      };
    },
    async publish(ids) {
      for (const listener of listeners) {
        if (ids === "all") listener.invalidateAll();
        else listener.invalidate(ids);
      }
    },
  };
}
