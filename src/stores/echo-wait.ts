/**
 * "Our own message came back": a publish through a server that fans out to subscribers
 * (Redis pub/sub, PostgreSQL LISTEN/NOTIFY) can report success before the subscribers have the
 * message. While this process has a subscription of its own up, a publish waits until that
 * subscription received the message back, which the server delivers together with (Redis) or
 * at the same moment as (PostgreSQL signals every listening backend at commit) the others'.
 * The wait is bounded: the server did take the message.
 */
/** Longest a publish waits for its echo before it resolves anyway (the server did take the message). */
export const ECHO_WAIT_MS = 500;

export interface EchoWait {
  /** Whether a subscription of this process is up (a publish then waits for its echo). */
  readonly subscribed: boolean;
  /** A subscription of this process is up / went down. */
  up(): void;
  down(): void;
  /** A subscription received `message`. */
  received(message: string): void;
  /**
   * Runs `send` (which publishes `message`), then, if a subscription is up, waits at most
   * `timeoutMs` for the echo. `send` resolving to `false` means nothing was published: no wait.
   */
  publish(message: string, send: () => Promise<unknown>): Promise<void>;
}

export function echoWait(timeoutMs: number = ECHO_WAIT_MS): EchoWait {
  let subscriptionsUp = 0;
  /** Messages published by this process and not yet received back, with who waits for them. */
  const awaiting = new Map<string, Set<() => void>>();
  return {
    get subscribed() {
      return subscriptionsUp > 0;
    },
    up: () => {
      subscriptionsUp++;
    },
    down: () => {
      subscriptionsUp--;
    },
    received(message) {
      for (const wake of awaiting.get(message) ?? []) wake();
    },
    async publish(message, send) {
      if (subscriptionsUp === 0) {
        await send();
        return;
      }
      let wake = () => {};
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arrived = new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      // Registered before sending: the message may come back before the reply.
      const waiters = awaiting.get(message) ?? new Set();
      waiters.add(wake);
      awaiting.set(message, waiters);
      try {
        if ((await send()) !== false) await arrived;
      } finally {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0) awaiting.delete(message);
      }
    },
  };
}
