/** The engine's prune loop: yields between batches, one prune at a time, stops on close(). */
import { describe, expect, it } from "vitest";
import type { SessionStore } from "../../src/index.js";
import { createSessions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";

const SECRET = "prune-loop-secret-0123456789abcdef0123456789";

/** A store whose pruneExpired deletes `perBatch` rows of a backlog of `backlog`, taking `ms` each. */
function slowPruneStore(backlog: number, perBatch: number, ms = 0) {
  let left = backlog;
  let running = 0;
  let overlapped = false;
  let calls = 0;
  const inner = memoryStore();
  const store: SessionStore = {
    ...inner,
    name: "slow",
    async pruneExpired(_now, limit) {
      calls++;
      running++;
      if (running > 1) overlapped = true;
      await new Promise((r) => setTimeout(r, ms));
      running--;
      const n = Math.min(left, perBatch, limit);
      left -= n;
      return n;
    },
  };
  return { store, stats: () => ({ left, overlapped, calls }) };
}

describe("prune loop", () => {
  it("keeps calling until a batch deletes nothing, also when a store returns short batches", async () => {
    const slow = slowPruneStore(2500, 300);
    const sessions = createSessions({ store: slow.store, secrets: [SECRET], pruneBatchSize: 1000 });
    expect(await sessions.prune()).toBe(2500);
    expect(slow.stats()).toMatchObject({ left: 0, calls: 10 }); // 9 short batches, then one empty
  });

  it("yields to the event loop between batches (a timer fires during a long prune)", async () => {
    let ticks = 0;
    const slow = slowPruneStore(0, 0);
    // A store whose batches are synchronous work, like better-sqlite3: only a macrotask
    // between batches lets the timer below run.
    let left = 50;
    slow.store.pruneExpired = async () => {
      const until = Date.now() + 4;
      while (Date.now() < until);
      return left-- > 0 ? 10 : 0;
    };
    const sessions = createSessions({ store: slow.store, secrets: [SECRET] });
    const timer = setInterval(() => ticks++, 1);
    await sessions.prune();
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(5);
  });

  it("one prune at a time: a call while one runs joins it", async () => {
    const slow = slowPruneStore(3000, 1000, 5);
    const sessions = createSessions({ store: slow.store, secrets: [SECRET] });
    const [a, b] = await Promise.all([sessions.prune(), sessions.prune()]);
    expect(a).toBe(3000);
    expect(b).toBe(3000);
    expect(slow.stats().overlapped).toBe(false);
  });

  it("close() stops a prune in progress after its current batch", async () => {
    const slow = slowPruneStore(1_000_000, 1000, 5);
    const sessions = createSessions({ store: slow.store, secrets: [SECRET] });
    const pruning = sessions.prune();
    await new Promise((r) => setTimeout(r, 30));
    const started = Date.now();
    await sessions.close();
    const deleted = await pruning;
    expect(Date.now() - started).toBeLessThan(200);
    expect(deleted).toBeLessThan(1_000_000);
    expect(slow.stats().left).toBe(1_000_000 - deleted);
  });
});
