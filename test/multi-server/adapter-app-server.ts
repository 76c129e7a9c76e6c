/**
 * One app process for the many-process tests: the reliability app (test/reliability/apps.ts)
 * on the adapter SK_ADAPTER and the store SK_STORE (postgres, mysql, redis or sqlite) at
 * SK_URL with table / key prefix SK_NAME. Prints `{"port":N}` once it listens on 127.0.0.1.
 *
 * Optional: SK_MAX_SESSIONS (maxSessionsPerUser), SK_RETRY_BUDGET, SK_PRUNE_INTERVAL,
 * SK_IDLE (idleTimeout), SK_TOUCH (touchInterval).
 */
import { createSessions, type Duration } from "../../src/index.js";
import { type AdapterKind, startApp } from "../reliability/apps.js";
import { openStore, type StoreKind } from "../reliability/stores.js";

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`adapter-app-server: ${name} is not set`);
  return value;
};
const optional = (name: string) => (process.env[name] || undefined) as Duration | undefined;

const opened = openStore({ kind: env("SK_STORE") as StoreKind, url: env("SK_URL"), name: env("SK_NAME") });
await opened.ready();
const sessions = createSessions<Record<string, unknown>>({
  store: opened.store,
  secrets: [env("SK_SECRET")],
  cookie: { secure: false },
  maxSessionsPerUser: optional("SK_MAX_SESSIONS") ? Number(optional("SK_MAX_SESSIONS")) : null,
  retryBudget: optional("SK_RETRY_BUDGET") ?? "2s",
  pruneInterval: optional("SK_PRUNE_INTERVAL") ?? null,
  idleTimeout: optional("SK_IDLE") ?? "7d",
  touchInterval: optional("SK_TOUCH") ?? "1m",
});
sessions.on("error", (e) => console.error("[app] background error", e.operation, e.error));
const app = await startApp(env("SK_ADAPTER") as AdapterKind, sessions);
console.log(JSON.stringify({ port: app.port }));

process.on("SIGTERM", () => {
  void app
    .close()
    .then(() => sessions.close())
    .then(() => opened.close())
    .finally(() => process.exit(0));
});
