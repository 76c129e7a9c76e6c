/**
 * Finds which external services are reachable before any test runs. A suite that needs a
 * service that is down is skipped with a loud line; under CI=true that is a failure instead.
 */
import net from "node:net";
import type { TestProject } from "vitest/node";

export interface ServiceInfo {
  name: "postgres" | "mysql" | "redis";
  url: string;
  reachable: boolean;
  reason: string;
}

export const SERVICE_URLS = {
  postgres: process.env.SESSIONKIT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  mysql: process.env.SESSIONKIT_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test",
  redis: process.env.SESSIONKIT_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
} as const;

function probe(url: string): Promise<string | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port), timeout: 2000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(null);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve("connection timed out");
    });
    socket.once("error", (error) => resolve(error.message));
  });
}

export default async function setup(project: TestProject) {
  const services: ServiceInfo[] = [];
  for (const [name, url] of Object.entries(SERVICE_URLS) as Array<[ServiceInfo["name"], string]>) {
    const reason = await probe(url);
    services.push({ name, url, reachable: reason === null, reason: reason ?? "" });
  }
  const down = services.filter((s) => !s.reachable);
  if (down.length > 0) {
    const lines = down.map((s) => `  SKIPPING ${s.name} suites: ${s.url} unreachable (${s.reason})`);
    const banner = ["", "!".repeat(78), ...lines, "!".repeat(78), ""].join("\n");
    if (process.env.CI === "true" || process.env.CI === "1") {
      throw new Error(`${banner}\nUnder CI an unreachable service is a failure, not a skip.`);
    }
    console.warn(banner);
  }
  project.provide("services", services);
}

declare module "vitest" {
  export interface ProvidedContext {
    services: ServiceInfo[];
  }
}
