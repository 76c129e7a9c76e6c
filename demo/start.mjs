// `npm start`: installs what is missing, then runs the TypeScript demo through tsx (no build step).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const major = Number(process.versions.node.split(".")[0]);
if (major < 20) {
  console.error(`[sessionkit] [demo] Node.js 20 or newer is needed, this is ${process.version}.`);
  process.exit(1);
}

const needed = ["tsx", "express", "better-sqlite3", "ua-parser-js", "cookie"];
// Looks for the installed folders (some packages do not export their package.json).
const missing = () => needed.filter((name) => !existsSync(join(root, "node_modules", name, "package.json")));

if (missing().length > 0) {
  const command = existsSync(join(root, "package-lock.json")) ? "ci" : "install";
  console.log(`[sessionkit] [demo] installing dependencies (missing: ${missing().join(", ")}): npm ${command}`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const run = (verb) =>
    spawnSync(npm, [verb, "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
  let result = run(command);
  if (result.status !== 0 && command === "ci") {
    // `npm ci` refuses a lockfile that this npm version reads as out of date; install resolves it.
    console.log("[sessionkit] [demo] npm ci failed; trying npm install");
    result = run("install");
  }
  if (result.status !== 0 || missing().length > 0) {
    console.error("[sessionkit] [demo] npm could not install the dependencies; run `npm ci` and look at its errors.");
    process.exit(1);
  }
}

const { register } = await import("tsx/esm/api");
register();
await import("./server.ts");
