/**
 * `npm start`: the demo on http://127.0.0.1:3000 with sessions in ./.data/sessions.sqlite.
 *
 * Environment: PORT (default 3000), HOST (default 127.0.0.1), SESSIONKIT_STORE (a store URL:
 * sqlite:PATH, postgres://..., mysql://..., redis://...; default sqlite in the data folder),
 * SESSIONKIT_DATA_DIR (default ./.data: the secret, and the default SQLite file).
 */
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { createDemoApp } from "./app.js";
import { openDemoStore } from "./open-demo-store.js";
import { loadOrCreateSecret } from "./secret.js";

function portFromEnv(value: string | undefined): number {
  if (value === undefined || value === "") return 3000;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`[sessionkit] [demo] PORT must be a number from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

const port = portFromEnv(process.env.PORT);
const host = process.env.HOST || "127.0.0.1";
const dataDir = resolve(process.env.SESSIONKIT_DATA_DIR || ".data");
mkdirSync(dataDir, { recursive: true });

const secretPath = join(dataDir, "secret");
const { secret, created } = loadOrCreateSecret(secretPath);
const storeUrl = process.env.SESSIONKIT_STORE || `sqlite:${join(dataDir, "sessions.sqlite")}`;
const { store, where } = await openDemoStore(storeUrl);
const demo = createDemoApp({ store, secrets: [secret] });

const server = demo.app.listen(port, host, () => {
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  // One write, so whoever waits for the first line gets the whole block.
  console.log(
    [
      `sessionkit demo listening on http://${shown}:${address.port}`,
      `  sessions: ${where}`,
      `  secret:   ${secretPath} (${created ? "generated now" : "reused"}; delete it to sign everyone out)`,
      "  Ctrl+C stops it.",
    ].join("\n"),
  );
});
server.on("error", (error) => {
  console.error(`[sessionkit] [demo] cannot listen on ${host}:${port}: ${error.message}. Set PORT to a free port.`);
  process.exit(1);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close();
  server.closeAllConnections();
  demo.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
