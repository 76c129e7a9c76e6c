/** Without the optional `pg` package, a store from a URL says what to install (and `{ pool }` needs no driver). */
import { describe, expect, it, vi } from "vitest";
import { SessionConfigError } from "../../src/index.js";
import { postgresStore } from "../../src/stores/postgres.js";

vi.mock("pg", () => {
  throw Object.assign(new Error("Cannot find package 'pg'"), { code: "ERR_MODULE_NOT_FOUND" });
});

describe("postgres store without the pg package", () => {
  it("rejects the first operation with a SessionConfigError saying to install pg", async () => {
    const store = postgresStore({ connectionString: "postgres://127.0.0.1:1/none" });
    const error = await store.get("a".repeat(64), 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionConfigError);
    expect((error as Error).message).toMatch(
      /\[sessionkit\] \[postgres\] the "pg" package is not installed: run `npm install pg`/,
    );
    expect((error as Error).cause).toBeDefined();
    await store.close();
  });

  it("works with an app's own pool, never importing pg", async () => {
    const pool = { query: async () => ({ rows: [], rowCount: 0 }), end: async () => {} };
    expect(await postgresStore({ pool }).get("a".repeat(64), 0)).toBeNull();
  });
});
