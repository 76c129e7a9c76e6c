/**
 * The `sessionkit` CLI against a SQL server store, written once and run by
 * `cli-postgres.test.ts` and `cli-mysql.test.ts`: the built `dist/cli/main.js` in a child
 * process (`npm test` builds first), its output and exit code checked.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { record } from "../conformance/store.case.js";
import { describeWithService, uniqueName } from "../helpers/services.js";
import { type SqlAdmin, type SqlBackend, type SqlStoreKind, sqlBackends } from "../multi-server/sql-stores.js";
import { revokeReachesCaches } from "./cli-cache.case.js";

const CLI = join(process.cwd(), "dist", "cli", "main.js");
const HOUR = 3_600_000;

function cli(args: string[]) {
  const { SESSIONKIT_STORE: _ignored, ...env } = process.env;
  const result = spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8", timeout: 30_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

const withTable = (url: string, table: string) => {
  const u = new URL(url);
  u.searchParams.set("table", table);
  return u.toString();
};

export function runSqlCliSuite(kind: SqlStoreKind) {
  const backend: SqlBackend = sqlBackends[kind];
  const { url, describe } = describeWithService(kind);

  describe(`sessionkit CLI --store ${kind}://... (${url})`, () => {
    const table = uniqueName(`sk_cli_${kind.slice(0, 2)}`);
    const storeUrl = withTable(url, table);
    let admin: SqlAdmin;

    beforeAll(() => {
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
      admin = backend.admin(url);
    });
    afterAll(async () => {
      await admin.dropTable(table);
      await admin.end();
    });

    it("schema prints the DDL without connecting", () => {
      const nowhere = new URL(storeUrl);
      nowhere.port = "1"; // nothing listens there: the command must not need the server
      const { code, out } = cli(["schema", "--store", nowhere.toString()]);
      expect(code).toBe(0);
      expect(out).toContain("CREATE TABLE IF NOT EXISTS");
      expect(out).toContain(table);
      expect(out).toMatch(/sessionkit schema \d+/);
    });

    it("before migrate, commands fail (exit 1) and say once, in shell terms, to run migrate", () => {
      const { code, err } = cli(["stats", "--store", storeUrl]);
      expect(code).toBe(1);
      expect(err).toBe(
        `sessionkit: the sessions table does not exist at ${err.match(/ at (.*)\. Create/)?.[1]}. Create it with: sessionkit migrate --store '${storeUrl}'\n`,
      );
      expect(err).toContain(table);
      expect(err.match(/migrate/g)).toHaveLength(1);
      expect(err).not.toMatch(/store\.migrate\(\)|fresh session/);
    });

    it("migrate says what it did: created the table, then already current", () => {
      const first = cli(["migrate", "--store", storeUrl]);
      expect(first.code, first.err).toBe(0);
      expect(first.out).toMatch(/^created the sessions table \(schema version (\d+)\): .*\(table .*\n$/);
      expect(first.out).toContain(table);
      const version = /schema version (\d+)/.exec(first.out)?.[1];
      const again = cli(["migrate", "--store", storeUrl]);
      expect(again.code, again.err).toBe(0);
      expect(again.out).toMatch(new RegExp(`^already at schema version ${version}, nothing to do: .*${table}`));
    });

    it("an unreachable server: exit 1 with one line of advice", () => {
      const nowhere = new URL(storeUrl);
      nowhere.port = "1";
      const { code, err } = cli(["stats", "--store", nowhere.toString()]);
      expect(code).toBe(1);
      expect(err).toMatch(
        /^sessionkit: cannot reach (PostgreSQL|MySQL\/MariaDB) at .*:1\/.*ECONNREFUSED.*\. Is .* running there\? Check the host and port in --store\.\n$/,
      );
    });

    it("list, stats, revoke, revoke-user and prune work on the shared table", async () => {
      const now = Date.now();
      const store = backend.store(url, table);
      const alice = [0, 1].map((i) =>
        record({ userId: "alice", createdAt: now - HOUR, lastActiveAt: now - i, expiresAt: now + HOUR }),
      );
      const bob = record({ userId: "bob", createdAt: now - HOUR, lastActiveAt: now, expiresAt: now + HOUR });
      const expired = [0, 1, 2].map(() =>
        record({ createdAt: now - 2 * HOUR, lastActiveAt: now - 2 * HOUR, expiresAt: now - HOUR }),
      );
      try {
        for (const r of [...alice, bob, ...expired]) await store.create(r);
      } finally {
        await store.close();
      }

      const listed = cli(["list", "alice", "--json", "--store", storeUrl]);
      expect(listed.code, listed.err).toBe(0);
      const lines = listed.out.trimEnd().split("\n");
      expect(lines.map((line) => (JSON.parse(line) as { id: string }).id).sort()).toEqual(alice.map((r) => r.id).sort());

      const stats = cli(["stats", "--json", "--store", storeUrl]);
      expect(stats.code, stats.err).toBe(0);
      expect(JSON.parse(stats.out)).toEqual({
        total: 6,
        active: 3,
        expired: 3,
        topUsers: [
          { userId: "alice", count: 2 },
          { userId: "bob", count: 1 },
        ],
      });

      const revoked = cli(["revoke", (alice[0] as { id: string }).id, "--store", storeUrl]);
      expect(revoked.code).toBe(0);
      expect(cli(["revoke", (alice[0] as { id: string }).id, "--store", storeUrl]).code).toBe(1);

      const everyone = cli(["revoke-user", "bob", "--store", storeUrl]);
      expect(everyone.out).toContain("revoked 1 session");

      const pruned = cli(["prune", "--batch-size", "2", "--no-progress", "--store", storeUrl]);
      expect(pruned.code, pruned.err).toBe(0);
      expect(pruned.out).toMatch(/pruned 3 expired sessions in 2 batches/);

      expect(JSON.parse(cli(["stats", "--json", "--store", storeUrl]).out)).toMatchObject({ total: 1, active: 1, expired: 0 });
    });

    it("revoke and revoke-user reach the apps' near-caches", async () => {
      await revokeReachesCaches(backend.store(url, table), (args) => cli([...args, "--store", storeUrl]));
    }, 30_000);

    it("a table name that is not a plain identifier is a usage error (exit 2)", () => {
      const { code, err } = cli(["stats", "--store", withTable(url, "x; DROP TABLE users")]);
      expect(code).toBe(2);
      expect(err).toMatch(/table must be a plain identifier/);
    });

    it("never prints the password of the store URL", () => {
      const u = new URL(storeUrl);
      u.password = "hunter2-not-shown";
      const { code, out, err } = cli(["migrate", "--store", u.toString()]);
      expect(`${out}${err}`).not.toContain("hunter2-not-shown");
      if (kind === "postgres") {
        // The test server trusts local connections, so the password is not checked.
        expect(code).toBe(0);
        expect(out).toContain(":***@");
      } else {
        // MariaDB's passwordless root refuses a password.
        expect(code).toBe(1);
        expect(err).toMatch(/Access denied/);
      }
    });
  });
}
