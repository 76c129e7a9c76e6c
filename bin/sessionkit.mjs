#!/usr/bin/env node
/**
 * The `sessionkit` command. In a git clone (src/ present, dev dependencies installed by
 * `npm ci`) it runs the TypeScript source through tsx, so `npx sessionkit` works before any
 * build and never runs a stale dist/. In the published package (no src/) it runs the built
 * dist/cli/main.js. With neither, it says how to get one.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "cli", "main.ts");
const built = join(root, "dist", "cli", "main.js");

/** tsx's loader, or null when it is not installed (the published package has no dev dependencies). */
async function tsxRegister() {
  try {
    return (await import("tsx/esm/api")).register;
  } catch {
    return null;
  }
}

const register = existsSync(source) ? await tsxRegister() : null;
if (register) {
  register();
  await import(pathToFileURL(source).href);
} else if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  process.stderr.write(
    `sessionkit: the command is not built (${built} is missing) and tsx is not installed to run its source.\n` +
      `In a clone of sessionkit, run \`npm ci\` (installs tsx) or \`npm run build\` in ${root}, then try again.\n`,
  );
  process.exitCode = 1;
}
