// The benchmarks measure the BUILT package (`dist/`, what `npm install sessionkit` gives users),
// never the TypeScript sources.
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * The build to measure. SESSIONKIT_BENCH_DIST points elsewhere, e.g. at a copy of `dist/` taken
 * before a long run so a rebuild in the work tree cannot change the code mid-run (keep the copy
 * inside the project so its imports of pg, ioredis... still resolve from node_modules).
 */
export const DIST = process.env.SESSIONKIT_BENCH_DIST ?? join(ROOT, "dist");

/** Imports one module of the built package, e.g. `importDist("stores/sqlite.js")`. */
export function importDist(relative) {
  const file = join(DIST, relative);
  if (!existsSync(file)) throw new Error(`[bench] ${file} is missing: run \`npm run build\` first (npm run bench does)`);
  return import(pathToFileURL(file).href);
}

/** When dist/index.js was built, for the report (an old build measures old code). */
export function distBuiltAt() {
  const file = join(DIST, "index.js");
  return existsSync(file) ? statSync(file).mtime : null;
}
