import { type OpenedStore, openStore } from "../src/cli/open-store.js";

/**
 * Opens the store a URL names, through the same scheme map as the `sessionkit` CLI, and
 * creates or upgrades its schema (idempotent), so a first `npm start` on an empty database works.
 */
export async function openDemoStore(url: string): Promise<OpenedStore> {
  const opened = await openStore(url, { create: true });
  await opened.store.migrate?.();
  return opened;
}
