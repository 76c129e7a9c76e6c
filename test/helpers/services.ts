import { randomBytes } from "node:crypto";
import { describe, inject } from "vitest";
import type { ServiceInfo } from "../setup/services.js";

/**
 * `describe` for suites that need an external service: runs when the global setup found it
 * reachable, otherwise skips (the setup already printed a loud line, and under CI=true the
 * run failed before reaching here).
 */
export function describeWithService(name: ServiceInfo["name"]) {
  const info = inject("services").find((s) => s.name === name);
  if (!info) throw new Error(`unknown service ${name}`);
  return { url: info.url, describe: describe.skipIf(!info.reachable) };
}

/** A name unique to this run, so parallel runs and files never collide (tables, key prefixes). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}
