import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser, listen } from "../adapters/harness.js";

/**
 * Runs the code of README sections, so the quick-starts cannot rot: each section's ```ts block
 * is written out as a module (with "sessionkit/..." pointed at the sources, through the
 * package's own export map) and driven over real HTTP on 127.0.0.1.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const exportsMap = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> }).exports;
const outDir = join(root, "test/readme", `.generated-${process.pid}`);

/** "sessionkit/express" -> the source file behind the built file the export map names. */
function sourceOf(specifier: string): string {
  const key = specifier === "sessionkit" ? "." : `./${specifier.slice("sessionkit/".length)}`;
  const entry = exportsMap[key] as { import?: { default?: string } } | undefined;
  const built = entry?.import?.default;
  if (!built) throw new Error(`README imports ${specifier}, which package.json does not export`);
  // The .js name of the source: what both vitest and TypeScript's NodeNext resolution expect.
  return join(root, built.replace(/^\.\/dist\//, "src/"));
}

/** The one ```ts block of a README section. */
function sectionCode(name: string): string {
  const start = readme.indexOf(`<!-- section:${name} -->`);
  const end = readme.indexOf(`<!-- /section:${name} -->`);
  if (start < 0 || end < start) throw new Error(`README has no section ${name}`);
  const blocks = [...readme.slice(start, end).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  if (blocks.length !== 1) throw new Error(`README section ${name} should hold exactly one ts block, has ${blocks.length}`);
  return blocks[0] as string;
}

const SECTIONS = ["quickstart", "express", "fastify", "hono", "koa", "fetch", "express-session", "api", "csrf"];

function write(name: string): string {
  const code = sectionCode(name).replace(
    /(["'])(sessionkit(?:\/[\w-]+)?)\1/g,
    (_m, q: string, spec: string) => `${q}${sourceOf(spec)}${q}`,
  );
  const file = join(outDir, `${name}.ts`);
  writeFileSync(file, code);
  return file;
}

async function load<T>(name: string): Promise<T> {
  return (await import(write(name))) as T;
}

beforeAll(() => {
  process.env.SESSION_SECRET ??= "readme-example-secret-of-at-least-32-bytes";
  mkdirSync(outDir, { recursive: true });
});
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

type NodeApp = Parameters<typeof createServer>[1];

async function withNodeApp(app: NodeApp, run: (browser: Browser) => Promise<void>) {
  const server = await listen(createServer(app));
  try {
    await run(new Browser(server.url));
  } finally {
    await server.close();
  }
}

describe("README quick-starts type-check", () => {
  // express-session's types declare req.session differently from sessionkit/express, so that
  // quick-start gets a program of its own (as it would in a real app).
  it("under the repository's strict compiler options", () => {
    const config = ts.getParsedCommandLineOfConfigFile(
      join(root, "tsconfig.json"),
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
        },
      },
    );
    if (!config) throw new Error("tsconfig.json did not parse");
    const options = { ...config.options, noEmit: true };
    let previous: ts.Program | undefined;
    const problems: string[] = [];
    // The express quick-start's `declare module "sessionkit/express"` must type req.session.
    const typed = join(outDir, "typed-session.ts");
    writeFileSync(
      typed,
      [
        'import type { Request } from "express";',
        'import "./express.js";',
        "export function check(req: Request): string[] | undefined {",
        '  // @ts-expect-error "nope" is not a key of the declared SessionData',
        '  req.session.get("nope");',
        '  return req.session.get("cart");',
        "}",
        "",
      ].join("\n"),
    );
    const groups = [SECTIONS.filter((s) => s !== "express-session"), ["express-session"]];
    for (const group of groups) {
      const name = group.join(", ");
      const files = group.map(write);
      if (group.includes("express")) files.push(typed);
      const program = ts.createProgram(files, options, undefined, previous);
      previous = program;
      for (const d of ts.getPreEmitDiagnostics(program)) {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
        const file = d.file ? d.file.fileName.slice(outDir.length + 1) : name;
        problems.push(`${file}${where ? `:${where.line + 1}` : ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);
});

describe("README quick-starts run as written", () => {
  it("quickstart: plain Request / Response", async () => {
    const { handler } = await load<{ handler: (request: Request) => Promise<Response> }>("quickstart");
    const first = await handler(new Request("http://localhost/"));
    expect(await first.text()).toBe("visit number 1");
    const cookie = (first.headers.getSetCookie()[0] as string).split(";")[0] as string;
    const second = await handler(new Request("http://localhost/", { headers: { cookie } }));
    expect(await second.text()).toBe("visit number 2");
  });

  it("express", async () => {
    const { app } = await load<{ app: NodeApp }>("express");
    await withNodeApp(app, async (browser) => {
      const added = await browser.fetch("/cart/apple", { method: "POST" });
      expect(added.status).toBe(302);
      expect(added.headers.getSetCookie()).toHaveLength(1);
      expect(await browser.json("/cart")).toEqual(["apple"]);
      expect(await browser.json("/login", { method: "POST" })).toEqual({ user: "user-42" });
      expect(await browser.json("/cart")).toEqual(["apple"]);
      await browser.fetch("/logout", { method: "POST" });
      expect(await browser.json("/cart")).toEqual([]);
    });
  });

  it("fastify", async () => {
    const { app } = await load<{ app: import("fastify").FastifyInstance }>("fastify");
    await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const browser = new Browser(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
      expect(await browser.json("/")).toEqual({ visits: 1 });
      expect(await browser.json("/")).toEqual({ visits: 2 });
    } finally {
      await app.close();
    }
  });

  it("hono", async () => {
    const { app } = await load<{ app: { fetch: (request: Request) => Response | Promise<Response> } }>("hono");
    const server = await new Promise<ReturnType<typeof serve>>((done) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => done(s));
    });
    try {
      const browser = new Browser(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
      expect(await browser.json("/")).toEqual({ visits: 1 });
      expect(await browser.json("/")).toEqual({ visits: 2 });
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
  });

  it("koa", async () => {
    const { app } = await load<{ app: { callback(): NodeApp } }>("koa");
    await withNodeApp(app.callback(), async (browser) => {
      expect(await browser.json("/")).toEqual({ visits: 1 });
      expect(await browser.json("/")).toEqual({ visits: 2 });
    });
  });

  it("fetch: route handlers", async () => {
    type Handler = (request: Request) => Promise<Response>;
    const { GET, POST } = await load<{ GET: Handler; POST: Handler }>("fetch");
    const server = await new Promise<ReturnType<typeof serve>>((done) => {
      const s = serve(
        { fetch: (request) => (request.method === "POST" ? POST(request) : GET(request)), port: 0, hostname: "127.0.0.1" },
        () => done(s),
      );
    });
    try {
      const browser = new Browser(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
      const posted = await browser.fetch("/api/cart", { method: "POST", body: JSON.stringify({ item: "pear" }) });
      expect(posted.status).toBe(201);
      expect(posted.headers.get("cache-control")).toBe("no-store");
      expect(await browser.json("/api/cart")).toEqual({ cart: ["pear"] });
    } finally {
      await new Promise<void>((done) => server.close(() => done()));
    }
  });

  it("express-session bridge", async () => {
    const { app } = await load<{ app: NodeApp }>("express-session");
    await withNodeApp(app, async (browser) => {
      expect(await browser.json("/")).toEqual({ views: 1 });
      expect(browser.cookies.has("connect.sid")).toBe(true);
      expect(await browser.json("/")).toEqual({ views: 2 });
    });
  });

  it("api: token in the Authorization header", async () => {
    const { app } = await load<{ app: NodeApp }>("api");
    await withNodeApp(app, async (browser) => {
      const login = await fetch(`${browser.base}/api/login`, { method: "POST" });
      expect(login.headers.getSetCookie()).toEqual([]);
      const authorization = login.headers.get("authorization");
      expect(authorization).toMatch(/^Bearer \S+$/);
      const me = await fetch(`${browser.base}/api/me`, { headers: { authorization: authorization as string } });
      expect(await me.json()).toEqual({ user: "user-42" });
    });
  });

  it("csrf: form token", async () => {
    const { app } = await load<{ app: NodeApp }>("csrf");
    await withNodeApp(app, async (browser) => {
      const page = await (await browser.fetch("/transfer")).text();
      const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
      expect(token).toBeTruthy();
      const form = (fields: Record<string, string>) => ({
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });
      expect((await browser.fetch("/transfer", form({}))).status).toBe(403);
      const sent = await browser.fetch("/transfer", form({ _csrf: token as string }));
      expect(sent.status).toBe(200);
      expect(await sent.text()).toBe("sent");
    });
  });
});
