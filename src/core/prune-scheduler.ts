import type { createEmitter } from "./events.js";

/**
 * Runs `prune` every `interval` ms with ±10% jitter (so many app servers started together
 * do not all prune at once). The timer is unref'd, so it never keeps the process alive, and
 * a run never overlaps the previous one: the next run is scheduled only after it finishes.
 */
export function startPruneScheduler(interval: number, prune: () => Promise<number>, events: ReturnType<typeof createEmitter>) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;

  const jittered = () => Math.max(1, Math.round(interval * (0.9 + Math.random() * 0.2)));

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(run, jittered());
    timer.unref?.();
  };

  function run() {
    timer = null;
    running = prune()
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
