/**
 * One small app, served through each HTTP adapter (Express, Fastify, Hono, Koa) on a real
 * server on 127.0.0.1, for the fuzz, race, outage and soak campaigns. Every framework gets
 * the same routes (one handler below) and an error handler that answers a 500 saying
 * whether the error was a SessionStoreError:
 *
 *   GET  /fuzz              reads the session, reports it to `observe`  -> { isNew, userId, keys }
 *   GET  /get               -> { id, isNew, userId, data }
 *   POST /set?key=K&value=V set K (a number when V is numeric)         -> { id }
 *   POST /login?user=U      login(U)                                    -> { id }
 *   POST /logout            destroy()                                   -> { ok }
 *   POST /revoke?id=ID      sessions.revoke(ID)                          -> { revoked }
 *   GET  /list?user=U       sessions.list(U)                             -> { ids, pid }
 *   GET  /__stats           the process's memory and active handles      -> { pid, rss, heapUsed, resources }
 *   error                   -> 500 { error: name, storeError: boolean }
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import Koa from "koa";
import { sessionMiddleware as expressSessions } from "../../src/adapters/express.js";
import { sessionPlugin } from "../../src/adapters/fastify.js";
import { sessionMiddleware as honoSessions, type SessionEnv } from "../../src/adapters/hono.js";
import { sessionMiddleware as koaSessions } from "../../src/adapters/koa.js";
import { type Session, SessionStoreError, type Sessions } from "../../src/index.js";

export type AdapterKind = "express" | "fastify" | "hono" | "koa";
export const ADAPTERS: AdapterKind[] = ["express", "fastify", "hono", "koa"];

export interface Observation {
  isNew: boolean;
  userId: string | null;
  keys: string[];
  id: string | null;
}

export interface RunningApp {
  kind: AdapterKind;
  url: string;
  port: number;
  close(): Promise<void>;
}

type AnySessions = Sessions<Record<string, unknown>>;
type AnySession = Session<Record<string, unknown>>;

/** The one handler every framework calls. Returns the JSON body. */
async function handle(
  sessions: AnySessions,
  session: AnySession,
  method: string,
  path: string,
  query: URLSearchParams,
  observe?: (o: Observation) => void,
): Promise<unknown> {
  const route = `${method} ${path}`;
  switch (route) {
    case "GET /fuzz": {
      const seen = {
        isNew: session.isNew,
        userId: session.userId,
        keys: session.keys() as string[],
        id: session.isNew ? null : session.id,
      };
      observe?.(seen);
      return seen;
    }
    case "GET /get":
      return {
        id: session.isNew ? null : session.id,
        isNew: session.isNew,
        userId: session.userId,
        data: session.toJSON(),
        pid: process.pid,
      };
    case "GET /list":
      return { ids: (await sessions.list(query.get("user") ?? "")).map((s) => s.id), pid: process.pid };
    case "GET /__stats": {
      // With --expose-gc, measure after a full collection: what is retained, not garbage.
      if (query.has("gc")) (globalThis as { gc?: () => void }).gc?.();
      const memory = process.memoryUsage();
      const resources: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
      return { pid: process.pid, rss: memory.rss, heapUsed: memory.heapUsed, resources };
    }
    case "POST /set": {
      const value = query.get("value") ?? "";
      session.set(query.get("key") ?? "k", /^\d+$/.test(value) ? Number(value) : value);
      return { id: session.id };
    }
    case "POST /login":
      await session.login(query.get("user") ?? "user");
      return { id: session.id };
    case "POST /logout":
      session.destroy();
      return { ok: true };
    case "POST /revoke":
      return { revoked: await sessions.revoke(query.get("id") ?? "") };
    default:
      return { error: "no such route" };
  }
}

const errorBody = (error: unknown) => ({
  error: error instanceof Error ? error.name : String(error),
  storeError: error instanceof SessionStoreError,
});

const listenNode = async (server: ReturnType<typeof createServer>) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
};

const closeNode = (server: ReturnType<typeof createServer>) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** Starts the app on `kind`'s adapter with `sessions`. */
export async function startApp(
  kind: AdapterKind,
  sessions: AnySessions,
  observe?: (o: Observation) => void,
): Promise<RunningApp> {
  const done = (port: number, close: () => Promise<void>): RunningApp => ({ kind, port, url: `http://127.0.0.1:${port}`, close });

  if (kind === "express") {
    const app = express();
    app.use(expressSessions(sessions));
    app.use((req, res, next) => {
      const url = new URL(req.originalUrl, "http://127.0.0.1");
      handle(sessions, req.session as unknown as AnySession, req.method, url.pathname, url.searchParams, observe).then(
        (body) => res.json(body),
        next,
      );
    });
    app.use(((error, _req, res, _next) => {
      res.status(500).json(errorBody(error));
    }) as express.ErrorRequestHandler);
    const server = createServer(app);
    return done(await listenNode(server), () => closeNode(server));
  }

  if (kind === "fastify") {
    const app = Fastify({ logger: false });
    app.setErrorHandler((error, _request, reply) => {
      // Fastify's own 4xx (a malformed request) stay 4xx; everything else is a 500.
      const status = (error as { statusCode?: number }).statusCode;
      void reply.status(status && status < 500 ? status : 500).send(errorBody(error));
    });
    await app.register(sessionPlugin, { sessions });
    app.all("/*", async (request) => {
      const url = new URL(request.url, "http://127.0.0.1");
      return handle(sessions, request.session as unknown as AnySession, request.method, url.pathname, url.searchParams, observe);
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    return done((app.server.address() as AddressInfo).port, () => app.close());
  }

  if (kind === "hono") {
    const app = new Hono<SessionEnv>();
    app.onError((error, c) => c.json(errorBody(error), 500));
    app.use(honoSessions(sessions));
    app.all("*", async (c) => {
      const url = new URL(c.req.url);
      return c.json(
        (await handle(
          sessions,
          c.get("session") as unknown as AnySession,
          c.req.method,
          url.pathname,
          url.searchParams,
          observe,
        )) as object,
      );
    });
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    return done(
      port,
      () =>
        new Promise<void>((resolve) => {
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
          server.close(() => resolve());
        }),
    );
  }

  const app = new Koa();
  app.silent = true;
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      ctx.status = 500;
      ctx.body = errorBody(error);
    }
  });
  app.use(koaSessions(sessions));
  app.use(async (ctx) => {
    const url = new URL(ctx.originalUrl, "http://127.0.0.1");
    ctx.body = await handle(sessions, ctx.session as unknown as AnySession, ctx.method, url.pathname, url.searchParams, observe);
  });
  const server = createServer(app.callback());
  return done(await listenNode(server), () => closeNode(server));
}

/**
 * One request of a load-test user: a write of `n = value` (POST /set) or a read (GET /get)
 * with the user's cookie. A transport failure (reset, refused, timeout) is returned, not thrown.
 */
export async function userRequest(
  url: string,
  cookie: string,
  write: boolean,
  value: number,
): Promise<{ status: number; body: Record<string, unknown> } | { transportError: string }> {
  try {
    const res = await fetch(write ? `${url}/set?key=n&value=${value}` : `${url}/get`, {
      method: write ? "POST" : "GET",
      headers: { cookie },
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch (error) {
    return { transportError: (error as Error).message };
  }
}
