/** Without the optional `mysql2` package, a store from a URL says what to install (and `{ pool }` needs no driver). */
import { describe, expect, it, vi } from "vitest";
import { SessionConfigError } from "../../src/index.js";
import { mysqlStore } from "../../src/stores/mysql.js";

vi.mock("mysql2/promise", () => {
  throw Object.assign(new Error("Cannot find package 'mysql2'"), { code: "ERR_MODULE_NOT_FOUND" });
});

describe("mysql store without the mysql2 package", () => {
  it("rejects the first operation with a SessionConfigError saying to install mysql2", async () => {
    const store = mysqlStore({ uri: "mysql://127.0.0.1:1/none" });
    const error = await store.get("a".repeat(64), 0).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionConfigError);
    expect((error as Error).message).toMatch(
      /\[sessionkit\] \[mysql\] the "mysql2" package is not installed: run `npm install mysql2`/,
    );
    await store.close();
  });

  it("works with an app's own pool, never importing mysql2", async () => {
    const query = async (): Promise<[unknown, unknown]> => [[], []];
    const pool = { query, getConnection: async () => ({ query, release() {}, destroy() {} }), end: async () => {} };
    expect(await mysqlStore({ pool }).get("a".repeat(64), 0)).toBeNull();
  });
});
