#!/usr/bin/env node
/**
 * Restores the lockfile entries of other platforms' optional binaries (@biomejs/cli-*,
 * @rollup/rollup-*, ...) that `npm install` leaves out when the registry it talks to does not
 * carry them (npm/cli#4828 and filtered mirrors). Without these entries `npm ci` refuses the
 * lockfile as "out of sync". The entries carry os/cpu/libc, so npm skips them on every other
 * platform and never fetches them here. Run it after `npm install`: node scripts/lockfile-platforms.mjs
 */
import { readFileSync, writeFileSync } from "node:fs";

const OS = ["android", "darwin", "freebsd", "linux", "openbsd", "openharmony", "win32", "sunos", "aix", "netbsd"];
const CPU = ["arm64", "x64", "arm", "ia32", "loong64", "ppc64", "riscv64", "s390x", "mips64el"];

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;
let added = 0;

for (const [path, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key] || packages[`${path}/node_modules/${name}`]) continue;
    const parts = name.split("/").pop().split("-");
    const os = parts.find((p) => OS.includes(p));
    const cpu = parts.find((p) => CPU.includes(p)) ?? (parts.includes("eabi") || parts.includes("gnueabihf") ? "arm" : undefined);
    if (!os || !cpu) continue; // not a platform binary: leave it to npm
    const libc = parts.some((p) => p.startsWith("musl")) ? ["musl"] : os === "linux" ? ["glibc"] : undefined;
    packages[key] = {
      version,
      cpu: [cpu],
      ...(entry.dev ? { dev: true } : {}),
      ...(libc ? { libc } : {}),
      optional: true,
      os: [os],
    };
    added++;
  }
}

lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lockfile: ${added} platform entries restored`);
