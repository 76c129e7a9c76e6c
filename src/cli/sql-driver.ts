/**
 * How the `sessionkit` CLI opens the SQL server stores from a URL:
 * `postgres://user:pw@host:5432/db?table=sessions&schema=public` and
 * `mysql://user:pw@host:3306/db?table=sessions`. `table` and `schema` are sessionkit's own
 * parameters and are taken out; every other parameter (`sslmode`, ...) goes to the driver.
 * The store modules (and so the drivers) are imported only when a command uses them.
 */
import { SessionConfigError } from "../contract/errors.js";
import { type StoreDriver, UsageError } from "./store-driver.js";

type Kind = "postgres" | "mysql";

const OWN_PARAMS: Record<Kind, string[]> = { postgres: ["table", "schema"], mysql: ["table"] };

/** The URL for messages: the password replaced, never printed. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.toString());
  if (copy.password) copy.password = "***";
  return copy.toString();
}

function parse(kind: Kind, raw: string) {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`cannot read the ${kind} store URL; expected e.g. ${EXAMPLES[kind]}`);
  }
  const own: Record<string, string | undefined> = {};
  for (const name of OWN_PARAMS[kind]) {
    own[name] = url.searchParams.get(name) ?? undefined;
    url.searchParams.delete(name);
  }
  return { url, table: own.table, schema: own.schema };
}

const EXAMPLES: Record<Kind, string> = {
  postgres: "postgres://user:password@localhost:5432/app?table=sessions",
  mysql: "mysql://user:password@localhost:3306/app?table=sessions",
};

async function storeFor(kind: Kind, raw: string) {
  const { url, table, schema } = parse(kind, raw);
  try {
    if (kind === "postgres") {
      const { postgresStore } = await import("../stores/postgres.js");
      // A CLI command runs its statements one after another: one connection is plenty.
      const store = postgresStore({ connectionString: url.toString(), table, schema, poolOptions: { max: 1 } });
      return { store, where: `${redactUrl(url)} (table "${schema ?? "public"}"."${table ?? "sessions"}")` };
    }
    const { mysqlStore } = await import("../stores/mysql.js");
    const store = mysqlStore({ uri: url.toString(), table, poolOptions: { connectionLimit: 1 } });
    return { store, where: `${redactUrl(url)} (table \`${table ?? "sessions"}\`)` };
  } catch (error) {
    // A bad table or schema name in the URL is a usage mistake (exit code 2).
    if (error instanceof SessionConfigError) throw new UsageError(error.message.replace(/^\[sessionkit\] /, ""));
    throw error;
  }
}

/**
 * The CLI entry for a SQL server store. Opening never creates anything (the `migrate` command
 * calls `store.migrate()` itself); other commands on a table that is not there fail with
 * "run store.migrate() (or sessionkit migrate ...)".
 */
export function sqlServerDriver(scheme: Kind | "postgresql"): StoreDriver {
  const kind: Kind = scheme === "postgresql" ? "postgres" : scheme;
  return {
    example: EXAMPLES[kind].replace(/^[a-z]+:/, `${scheme}:`),
    product: kind === "postgres" ? "PostgreSQL" : "MySQL/MariaDB",
    open: (raw) => storeFor(kind, raw),
    async schemaSql(raw) {
      // Creating the store connects to nothing; its pool is made on first query.
      const { store } = await storeFor(kind, raw);
      return `${store.schemaSql()}\n`;
    },
  };
}
