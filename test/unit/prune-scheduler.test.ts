import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createEmitter } from "../../src/core/events.js";
import { startPruneScheduler } from "../../src/core/prune-scheduler.js";
import { createSessions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { record } from "../conformance/store.case.js";

/** A promise and the functions that settle it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("prune scheduler", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("runs every interval", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5); // no jitter
    const prune = vi.fn(async () => 0);
    const scheduler = startPruneScheduler(1000, prune, createEmitter());
    await vi.advanceTimersByTimeAsync(999);
    expect(prune).toHaveBeenCalledTimes(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(prune).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(prune).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(prune).toHaveBeenCalledTimes(12);
    await scheduler.stop();
  });

  it("jitters each delay within ±10% of the interval", async () => {
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return real(fn, ms);
    }) as typeof setTimeout);
    const scheduler = startPruneScheduler(60_000, async () => 0, createEmitter());
    for (let i = 0; i < 200; i++) await vi.advanceTimersToNextTimerAsync();
    await scheduler.stop();
    expect(delays.length).toBeGreaterThanOrEqual(200);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(54_000);
      expect(d).toBeLessThanOrEqual(66_000);
    }
    expect(new Set(delays).size).toBeGreaterThan(100); // really random, not a fixed offset
    expect(Math.min(...delays)).toBeLessThan(56_000);
    expect(Math.max(...delays)).toBeGreaterThan(64_000);
  });

  it("unrefs its timer", async () => {
    const unref = vi.fn();
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms?: number) => {
      const timer = real(fn, ms);
      const originalUnref = timer.unref?.bind(timer);
      timer.unref = () => {
        unref();
        return originalUnref ? originalUnref() : timer;
      };
      return timer;
    }) as typeof setTimeout);
    const scheduler = startPruneScheduler(1000, async () => 0, createEmitter());
    expect(unref).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1200);
    expect(unref).toHaveBeenCalledTimes(2); // every rescheduled timer too
    await scheduler.stop();
  });

  it("never runs twice at once: the next run waits for the previous one to finish", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const runs: Array<ReturnType<typeof deferred<number>>> = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const prune = vi.fn(() => {
      const d = deferred<number>();
      runs.push(d);
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      return d.promise.finally(() => concurrent--);
    });
    const scheduler = startPruneScheduler(1000, prune, createEmitter());
    await vi.advanceTimersByTimeAsync(1000);
    expect(prune).toHaveBeenCalledTimes(1);
    expect(scheduler.running).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000); // a slow prune: ten intervals go by
    expect(prune).toHaveBeenCalledTimes(1);
    runs[0]?.resolve(5);
    await vi.advanceTimersByTimeAsync(0);
    expect(scheduler.running).toBe(false);
    await vi.advanceTimersByTimeAsync(999);
    expect(prune).toHaveBeenCalledTimes(1); // the interval restarts after the run ends
    await vi.advanceTimersByTimeAsync(1);
    expect(prune).toHaveBeenCalledTimes(2);
    runs[1]?.resolve(0);
    await scheduler.stop();
    expect(maxConcurrent).toBe(1);
  });

  it("stop() waits for a running prune and nothing runs after it", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const run = deferred<number>();
    const prune = vi.fn(() => run.promise);
    const scheduler = startPruneScheduler(1000, prune, createEmitter());
    await vi.advanceTimersByTimeAsync(1000);
    expect(scheduler.running).toBe(true);
    let stopped = false;
    const stopping = scheduler.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(stopped).toBe(false);
    run.resolve(3);
    await stopping;
    expect(stopped).toBe(true);
    await vi.advanceTimersByTimeAsync(100_000);
    expect(prune).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stop() before the first run cancels it", async () => {
    const prune = vi.fn(async () => 0);
    const scheduler = startPruneScheduler(1000, prune, createEmitter());
    await scheduler.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(prune).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("reports errors on the error event and keeps running", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const events = createEmitter();
    const errors: unknown[] = [];
    events.on("error", (e) => errors.push(e));
    const failure = new Error("database is locked");
    const prune = vi
      .fn<() => Promise<number>>()
      .mockRejectedValueOnce(failure)
      .mockImplementationOnce(() => {
        throw new Error("thrown synchronously");
      })
      .mockResolvedValue(0);
    const scheduler = startPruneScheduler(1000, prune, events);
    await vi.advanceTimersByTimeAsync(3000);
    expect(prune).toHaveBeenCalledTimes(3);
    expect(errors).toEqual([
      { operation: "prune", error: failure },
      { operation: "prune", error: expect.objectContaining({ message: "thrown synchronously" }) },
    ]);
    await scheduler.stop();
  });

  it("without an error listener, logs the failure instead of throwing", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const scheduler = startPruneScheduler(1000, async () => Promise.reject(new Error("disk I/O error")), createEmitter());
    await vi.advanceTimersByTimeAsync(1100);
    expect(log).toHaveBeenCalledTimes(1);
    expect(String(log.mock.calls[0]?.[0])).toMatch(/background prune failed/);
    await scheduler.stop();
  });

  it("caps a delay longer than a timer allows instead of firing at once", async () => {
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return real(fn, ms);
    }) as typeof setTimeout);
    const prune = vi.fn(async () => 0);
    const scheduler = startPruneScheduler(60 * 86_400_000, prune, createEmitter()); // 60 days
    await vi.advanceTimersByTimeAsync(1000);
    expect(prune).not.toHaveBeenCalled();
    expect(delays).toEqual([2_147_483_647]);
    await scheduler.stop();
  });

  it("createSessions({ pruneInterval }) prunes in the background and close() stops it", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const store = memoryStore();
    let now = 1_700_000_000_000;
    const expired = Array.from({ length: 30 }, () => record({ expiresAt: now + 1000 }));
    for (const r of expired) await store.create(r);
    await store.create(record({ expiresAt: null }));
    const sessions = createSessions({
      store,
      secrets: ["scheduler-secret-0123456789abcdef0123456789"],
      pruneInterval: "1h",
      pruneBatchSize: 7,
      clock: () => now,
    });
    const counts: number[] = [];
    sessions.on("expired", (e) => counts.push(e.count ?? -1));
    now += 5000;
    // The run fires at 1 h; its batches then yield to the event loop (setImmediate) between them.
    await vi.advanceTimersByTimeAsync(3_600_000 + 100);
    expect(counts).toEqual([30]);
    expect((await store.stats(now, 10)).total).toBe(1);
    await sessions.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("prune scheduler: process lifetime", () => {
  it("never keeps the process alive (real timers, a child process)", async () => {
    const dist = join(process.cwd(), "dist");
    if (!existsSync(join(dist, "index.js"))) throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
    const script = `
      const { createSessions } = await import(${JSON.stringify(join(dist, "index.js"))});
      const { memoryStore } = await import(${JSON.stringify(join(dist, "stores", "memory.js"))});
      createSessions({ store: memoryStore(), secrets: ["lifetime-secret-0123456789abcdef0123456789"], pruneInterval: "1h" });
      console.log("started");
    `;
    const started = Date.now();
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      proc.stdout.on("data", (d) => {
        out += d;
      });
      const kill = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      proc.on("close", (code) => {
        clearTimeout(kill);
        resolve({ code, out });
      });
    });
    expect(out).toContain("started");
    expect(code).toBe(0); // exited on its own: SIGKILL would give null
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 20_000);
});
