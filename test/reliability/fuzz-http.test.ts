/**
 * Hostile cookies and headers over HTTP, through each adapter (Express, Fastify, Hono, Koa)
 * on a real server on 127.0.0.1: no 5xx, no session other than a fresh one (unless the input
 * carries an issued token unchanged), no store write, nothing injected into the response.
 * Inputs Node's HTTP client would refuse to send (CR/LF, NUL, non-Latin-1) go over a raw
 * socket, as an attacker would send them.
 *
 * Quick: 500 inputs per adapter. Full (SESSIONKIT_LONG=1): 10 000 per adapter.
 */
import http from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSessions, type Sessions } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { spyStore } from "../helpers/engine.js";
import { rawRequest } from "../helpers/raw-http.js";
import { ADAPTERS, type Observation, type RunningApp, startApp } from "./apps.js";
import { recordFigure, scale } from "./figures.js";
import { type HostileInput, headerSafe, hostileInput, type Seeds } from "./hostile.js";
import { effectiveToken, FUZZ_SECRET, makeSeeds } from "./seeds.js";

const RUNS = scale(500, 10_000);
const headOf = (value: string) => value.split(".").slice(0, 3).join(".");

function viaClient(agent: http.Agent, port: number, input: HostileInput): Promise<{ status: number; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...input.headers };
    if (input.cookie !== null) headers.cookie = input.cookie;
    const req = http.request({ host: "127.0.0.1", port, path: "/fuzz", method: "GET", agent, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers["set-cookie"] ?? [] }));
    });
    req.on("error", reject);
    req.end();
  });
}

for (const kind of ADAPTERS) {
  describe(`fuzz over HTTP: ${kind} adapter`, () => {
    let app: RunningApp;
    let seeds: Seeds;
    let spy: ReturnType<typeof spyStore>;
    let sessions: Sessions<Record<string, unknown>>;
    const seen: Observation[] = [];
    let agent: http.Agent;

    beforeAll(async () => {
      spy = spyStore(memoryStore());
      const now = Date.now();
      sessions = createSessions<Record<string, unknown>>({
        store: spy.store,
        secrets: [FUZZ_SECRET],
        transport: ["cookie", { header: "authorization" }],
        cookieKeys: ["theme"],
        touchInterval: "1h",
        clock: () => now,
      });
      const first = sessions.config.transports[0];
      seeds = await makeSeeds(sessions, spy.store, first?.kind === "cookie" ? first.cookie.name : "sid");
      app = await startApp(kind, sessions, (o) => seen.push(o));
      agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    });
    afterAll(async () => {
      agent?.destroy();
      await app?.close();
    });

    it(`${RUNS} hostile inputs: no 5xx, only fresh sessions, no store write, nothing injected`, async () => {
      const issued = new Map(seeds.valid.map((v) => [headOf(v), v]));
      const statuses: Record<number, number> = {};
      let raw = 0;
      let reachedApp = 0;
      let sameToken = 0;
      spy.reset();
      const started = Date.now();
      await fc.assert(
        fc.asyncProperty(hostileInput(seeds), async (input) => {
          seen.length = 0;
          const values = [input.cookie ?? "", ...Object.values(input.headers)];
          let codes: number[];
          let text = "";
          if (values.every(headerSafe)) {
            const res = await viaClient(agent, app.port, input);
            codes = [res.status];
            text = res.setCookie.join("\n");
            if (res.status === 400 || res.status === 431) {
              // The server's HTTP parser refused the request and ends the connection; Fastify's
              // answer does not say "Connection: close", so a pooled socket would be reused and
              // reset ("socket hang up"). A new client pool, as a browser would open.
              agent.destroy();
              agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
            }
          } else {
            raw++;
            const lines = [`GET /fuzz HTTP/1.1`, `Host: 127.0.0.1:${app.port}`];
            if (input.cookie !== null) lines.push(`Cookie: ${input.cookie}`);
            for (const [name, value] of Object.entries(input.headers)) lines.push(`${name}: ${value}`);
            lines.push("Connection: close", "", "");
            const res = await rawRequest(app.port, lines.join("\r\n"));
            codes = res.statuses;
            text = res.text;
          }
          for (const code of codes) statuses[code] = (statuses[code] ?? 0) + 1;
          expect(codes.every((c) => c < 500)).toBe(true);
          expect(text).not.toMatch(/set-cookie:\s*pwn|x-injected/i);
          reachedApp += seen.length;
          // The server's view of a raw input: a header ends at the first line break.
          const cut = (v: string) => v.split(/\r\n|\n|\r/)[0] as string;
          const token = effectiveToken(
            {
              ...input,
              cookie: input.cookie === null ? null : cut(input.cookie),
              headers: Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k, cut(v)])),
            },
            seeds.cookieName,
          );
          for (const o of seen) {
            if (token !== undefined && issued.has(headOf(token)) && !o.isNew) {
              sameToken++;
              expect(headOf(token).startsWith(`${o.id}.`)).toBe(true);
            } else {
              expect(o).toMatchObject({ isNew: true, userId: null, keys: [] });
            }
          }
          expect(spy.writes()).toEqual([]);
        }),
        { numRuns: RUNS, seed: Number(process.env.SESSIONKIT_FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
      );
      recordFigure({
        section: "fuzz",
        name: `${kind} adapter over HTTP`,
        values: {
          inputs: RUNS,
          "raw-socket inputs": raw,
          "reached the app": reachedApp,
          "issued token, other spelling": sameToken,
          "5xx": Object.entries(statuses)
            .filter(([c]) => Number(c) >= 500)
            .reduce((n, [, v]) => n + v, 0),
          statuses: JSON.stringify(statuses),
          "store writes": spy.writes().length,
          seconds: (Date.now() - started) / 1000,
        },
      });
    }, 600_000);
  });
}
