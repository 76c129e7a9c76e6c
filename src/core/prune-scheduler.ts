import type { createEmitter } from "./events.js";

/** The longest delay setTimeout honours (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_DELAY = 2_147_483_647;

/**
 * Runs `prune` every `interval` ms with ±10% jitter (so many app servers started together
 * do not all prune at once). The timer is unref'd, so it never keeps the process alive, and
 * a run never overlaps the previous one: the next run is scheduled only after it finishes.
 */
export function startPruneScheduler(interval: number, prune: () => Promise<number>, events: ReturnType<typeof createEmitter>) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  // setTimeout fires at once for delays above 2^31 - 1 ms (about 24.8 days), which would turn
  // a long interval into a busy loop: longer intervals wait the longest delay a timer allows.
  const jittered = () => Math.min(MAX_TIMER_DELAY, Math.max(1, Math.round(interval * (0.9 + Math.random() * 0.2))));

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(run, jittered());
    timer.unref?.();
  };

  function run() {
    timer = null;
    // Started inside a promise, so a prune that throws synchronously is reported like one that rejects.
    running = Promise.resolve()
      .then(prune)
      .then(
        () => undefined,
        (error: unknown) => {
          if (events.has("error")) events.emit("error", { operation: "prune", error });
          else console.error("[sessionkit] background prune failed; it will run again at the next interval:", error);
        },
      )
      .finally(() => {
        running = null;
        schedule();
      });
  }

  schedule();
  return {
    /** Whether a prune is running right now (for tests and shutdown). */
    get running() {
      return running !== null;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
