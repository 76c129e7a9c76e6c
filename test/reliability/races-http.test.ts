/**
 * Races through the HTTP adapters, on every store: 200 concurrent requests on one session,
 * each setting its own key, through Express, Fastify, Hono and Koa on a real server: 200
 * keys kept, 0 errors. (The engine-level races, login/rotate/destroy/revoke in all pairs,
 * are in the conformance suite and run on every store; this is the same promise end to end.)
 *
 * Quick: each store through one adapter (rotating, so all four adapters run). Full
 * (SESSIONKIT_LONG=1): every adapter on every store, 3 rounds each.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createSessions } from "../../src/index.js";
import { describeWithService } from "../helpers/services.js";
import { ADAPTERS, type AdapterKind, startApp } from "./apps.js";
import { LONG, recordFigure, scale } from "./figures.js";
import { ALL_STORES, freshStore, openStore, type StoreKind, serviceOf } from "./stores.js";

const WRITERS = 200;
const REPEAT = scale(1, 3);

const cookieOf = (res: Response) => res.headers.getSetCookie()[0]?.split(";")[0] ?? null;

function describeFor(kind: StoreKind) {
  const service = serviceOf(kind);
  return service ? describeWithService(service).describe : describe;
}

for (const kind of ALL_STORES) {
  describeFor(kind)(`HTTP races on the ${kind} store`, () => {
    const drops: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const drop of drops) await drop();
    });

    // Quick: one adapter per store, rotating, so every adapter and every store is covered.
    const adapters = LONG ? ADAPTERS : [ADAPTERS[ALL_STORES.indexOf(kind) % ADAPTERS.length] as AdapterKind];
    for (const adapter of adapters) {
      it(`${adapter}: ${WRITERS} concurrent requests on one session, each setting its own key: all kept, 0 errors`, async () => {
        const { spec, drop } = await freshStore(kind);
        drops.push(drop);
        const opened = openStore(spec);
        await opened.ready();
        const sessions = createSessions<Record<string, unknown>>({
          store: opened.store,
          secrets: ["races-http-secret-0123456789abcdef0123456789"],
          cookie: { secure: false },
        });
        const app = await startApp(adapter, sessions);
        let errors = 0;
        const started = Date.now();
        try {
          for (let round = 0; round < REPEAT; round++) {
            const first = await fetch(`${app.url}/set?key=base&value=0`, { method: "POST" });
            expect(first.status).toBe(200);
            const cookie = cookieOf(first) as string;
            const replies = await Promise.all(
              Array.from({ length: WRITERS }, (_, i) =>
                fetch(`${app.url}/set?key=k${i}&value=${i}`, { method: "POST", headers: { cookie } }).then(async (r) => ({
                  status: r.status,
                  body: (await r.json()) as Record<string, unknown>,
                })),
              ),
            );
            const failed = replies.filter((r) => r.status !== 200);
            errors += failed.length;
            expect(failed, JSON.stringify(failed.slice(0, 3))).toEqual([]);
            const final = (await (await fetch(`${app.url}/get`, { headers: { cookie } })).json()) as {
              data: Record<string, unknown>;
            };
            const expected: Record<string, unknown> = { base: 0 };
            for (let i = 0; i < WRITERS; i++) expected[`k${i}`] = i;
            expect(final.data).toEqual(expected);
          }
        } finally {
          await app.close();
          await sessions.close();
        }
        recordFigure({
          section: "races",
          name: `${WRITERS} writers of one session, ${adapter} on ${kind}`,
          values: {
            rounds: REPEAT,
            requests: REPEAT * WRITERS,
            "keys kept": REPEAT * WRITERS,
            errors,
            seconds: (Date.now() - started) / 1000,
          },
        });
      }, 120_000);
    }
  });
}
