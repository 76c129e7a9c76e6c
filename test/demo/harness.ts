import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import request from "supertest";
import { createDemoApp, type DemoApp } from "../../demo/app.js";
import type { SessionStore } from "../../src/contract/store.js";
import { sqliteStore } from "../../src/stores/sqlite.js";

export interface RunningDemo {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  demo: DemoApp;
  close(): Promise<void>;
}

/** The demo app on 127.0.0.1 (a free port); its sessions in `store`, or else a temporary SQLite file. */
export async function startDemo(store?: SessionStore): Promise<RunningDemo> {
  const dir = mkdtempSync(join(tmpdir(), "sessionkit-demo-"));
  const demo = createDemoApp({
    store: store ?? sqliteStore({ path: join(dir, "sessions.sqlite") }),
    secrets: ["demo-test-secret-of-more-than-32-bytes!!"],
    secureCookie: false,
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = demo.app.listen(0, "127.0.0.1", () => resolve(s));
    s.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    demo,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await demo.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The CSRF token of the first form in a page. */
export const csrfOf = (html: string): string => {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error("no CSRF token in the page");
  return token;
};

/** Signs `user` in from a new client (its own cookie jar) and returns that client. */
export async function signInAgent(url: string, user: string, userAgent: string) {
  const agent = request.agent(url);
  const form = await agent.get("/signin").set("user-agent", userAgent).expect(200);
  await agent
    .post("/signin")
    .set("user-agent", userAgent)
    .type("form")
    .send({ user, _csrf: csrfOf(form.text) })
    .expect(303);
  return agent;
}
