import { describe, expect, it } from "vitest";
import { type PostgresQuery, postgresStore } from "../../src/stores/postgres.js";

/** A pool that records what it is asked and answers "no row". */
function recordingPool() {
  const seen: PostgresQuery[] = [];
  return {
    seen,
    pool: {
      query: async (config: PostgresQuery) => {
        seen.push(config);
        return { rows: [], rowCount: 0 };
      },
      end: async () => undefined,
    },
  };
}

describe("postgres prepared statements", () => {
  it("names the per-request statements by default, stably and per table", async () => {
    const a = recordingPool();
    const store = postgresStore({ pool: a.pool });
    await store.get("a".repeat(32), 0);
    await store.get("b".repeat(32), 0);
    await store.touch("a".repeat(32), "c".repeat(64), 1, null);
    await store.listByUser("u", 0);
    const [get1, get2, touch, list] = a.seen;
    expect(get1?.name).toMatch(/^sessionkit_[0-9a-f]{20}$/);
    expect(get2?.name).toBe(get1?.name);
    expect(touch?.name).not.toBe(get1?.name);
    expect(list?.name).toBeUndefined(); // admin queries stay unnamed
    const other = recordingPool();
    await postgresStore({ pool: other.pool, table: "other_sessions" }).get("a".repeat(32), 0);
    expect(other.seen[0]?.name).not.toBe(get1?.name);
  });

  it("can be turned off for poolers that cannot track them", async () => {
    const a = recordingPool();
    const store = postgresStore({ pool: a.pool, preparedStatements: false });
    await store.get("a".repeat(32), 0);
    expect(a.seen[0]?.name).toBeUndefined();
  });
});
