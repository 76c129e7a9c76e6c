/** The CLI's wording for store failures: shell advice, once, never the web-request text. */
import { describe, expect, it } from "vitest";
import { describeFailure, ShellFailure } from "../../src/cli/failure.js";
import { migrateMessage } from "../../src/cli/format.js";
import { SessionConfigError, SessionStoreError } from "../../src/contract/errors.js";

const ctx = { url: "postgres://app@db:5432/app", where: "postgres://app@db:5432/app (table sessions)", product: "PostgreSQL" };
const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

describe("describeFailure", () => {
  it("connection refused (also inside an AggregateError): is it running there?", () => {
    const refused = new SessionStoreError(
      "postgres",
      "stats",
      new AggregateError([coded("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")], ""),
    );
    const text = describeFailure(refused, ctx);
    expect(text).toMatch(
      /^cannot reach PostgreSQL at postgres:\/\/app@db:5432\/app \(table sessions\) \(.*\)\. Is PostgreSQL running there\?/,
    );
    expect(text).not.toMatch(/fresh session|store\.migrate\(\)/);
  });

  it("a missing table: the migrate command to copy, said once", () => {
    const missing = new SessionStoreError(
      "postgres",
      "stats",
      new Error("table x does not exist; run store.migrate() (or `sessionkit migrate --store <url>`) once before use", {
        cause: coded("relation does not exist", "42P01"),
      }),
    );
    const text = describeFailure(missing, ctx);
    expect(text).toBe(
      "the sessions table does not exist at postgres://app@db:5432/app (table sessions). Create it with: sessionkit migrate --store 'postgres://app@db:5432/app'",
    );
    expect(describeFailure(missing, { ...ctx, url: "postgres://app:pw@db/app" })).toMatch(/--store <the same --store URL>$/);
  });

  it("credentials and a missing database", () => {
    expect(
      describeFailure(coded("Access denied for user 'root'", "ER_ACCESS_DENIED_ERROR"), { ...ctx, product: "MySQL/MariaDB" }),
    ).toMatch(/refused the credentials .* Check the user and password in --store\.$/);
    expect(
      describeFailure(new SessionStoreError("postgres", "stats", coded('database "nodb" does not exist', "3D000")), ctx),
    ).toMatch(/: database "nodb" does not exist\. Create the database first/);
  });

  it("other store failures: product, operation and reason, without the web wording", () => {
    const text = describeFailure(
      new SessionStoreError("postgres", "prune", new Error("canceling statement due to statement timeout")),
      ctx,
    );
    expect(text).toBe("PostgreSQL prune failed: canceling statement due to statement timeout");
  });

  it("messages already written for the caller pass through", () => {
    expect(describeFailure(new SessionConfigError("[sessionkit] cannot open /x: the directory / is read-only"), ctx)).toBe(
      "cannot open /x: the directory / is read-only",
    );
    expect(describeFailure(new ShellFailure("cannot reach Redis at r (closed). Is Redis running there?"), ctx)).toBe(
      "cannot reach Redis at r (closed). Is Redis running there?",
    );
  });
});

describe("migrateMessage", () => {
  it.each([
    [{ action: "created", from: 0, to: 2 }, "created the sessions table (schema version 2): W"],
    [{ action: "upgraded", from: 1, to: 2 }, "upgraded the sessions table from schema version 1 to 2: W"],
    [{ action: "current", from: 2, to: 2 }, "already at schema version 2, nothing to do: W"],
    [undefined, "schema is up to date: W"],
  ] as const)("%o", (result, text) => {
    expect(migrateMessage(result, "W")).toBe(text);
  });
});
