/**
 * Runs the code of the migration guides (docs/migrating-*.md), so they cannot rot: each
 * `<!-- example:name -->` ```ts block is written out as a module (with "sessionkit/..." pointed
 * at the sources through the package's export map), type-checked under the repository's
 * compiler options, and driven over real HTTP on 127.0.0.1 with a cookie jar.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import Database from "better-sqlite3";
import { sealData } from "iron-session";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser, listen, parseSetCookie } from "../adapters/harness.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const exportsMap = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> }).exports;
const outDir = join(root, "test/guides", `.generated-${process.pid}`);
const dataDir = mkdtempSync(join(tmpdir(), "sessionkit-guides-"));

const GUIDES = {
  "express-session": "docs/migrating-from-express-session.md",
  "fastify-session": "docs/migrating-from-fastify-session.md",
  "iron-session": "docs/migrating-from-iron-session.md",
  lucia: "docs/migrating-from-lucia.md",
} as const;
type Guide = keyof typeof GUIDES;

/** "sessionkit/express" -> the source file behind the built file the export map names. */
function sourceOf(specifier: string): string {
  const key = specifier === "sessionkit" ? "." : `./${specifier.slice("sessionkit/".length)}`;
  const built = (exportsMap[key] as { import?: { default?: string } } | undefined)?.import?.default;
  if (!built) throw new Error(`a guide imports ${specifier}, which package.json does not export`);
  return join(root, built.replace(/^\.\/dist\//, "src/"));
}

/** The one ```ts block between `<!-- example:name -->` and `<!-- /example:name -->`. */
function exampleCode(guide: Guide, name: string): string {
  const text = readFileSync(join(root, GUIDES[guide]), "utf8");
  const start = text.indexOf(`<!-- example:${name} -->`);
  const end = text.indexOf(`<!-- /example:${name} -->`);
  if (start < 0 || end < start) throw new Error(`${GUIDES[guide]} has no example ${name}`);
  const blocks = [...text.slice(start, end).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  if (blocks.length !== 1) throw new Error(`${GUIDES[guide]} example ${name} should hold one ts block, has ${blocks.length}`);
  return blocks[0] as string;
}

function write(guide: Guide, name: string): string {
  const code = exampleCode(guide, name).replace(
    /(["'])(sessionkit(?:\/[\w-]+)?)\1/g,
    (_m, q: string, spec: string) => `${q}${sourceOf(spec)}${q}`,
  );
  const file = join(outDir, `${guide}-${name}.ts`);
  writeFileSync(file, code);
  return file;
}

const load = async <T>(guide: Guide, name: string) => (await import(write(guide, name))) as T;

/** Every example, and whether it needs a program of its own (express-session's types declare req.session). */
const EXAMPLES: Array<[Guide, string]> = [
  ["express-session", "passport"],
  ["fastify-session", "passport"],
  ["iron-session", "convert"],
  ["lucia", "convert"],
];
const OWN_PROGRAM: Array<[Guide, string]> = [["express-session", "bridge"]];

const IRON_PASSWORD = "iron-session-password-of-at-least-32-characters";
const LUCIA_DB = join(dataDir, "app.sqlite");

beforeAll(() => {
  process.env.SESSION_SECRET ??= "guide-example-secret-of-at-least-32-bytes!";
  process.env.IRON_SESSION_PASSWORD = IRON_PASSWORD;
  process.env.APP_DB = LUCIA_DB;
  process.env.SESSIONS_DB = join(dataDir, "bridge.sqlite");
  mkdirSync(outDir, { recursive: true });
  const db = new Database(LUCIA_DB);
  db.exec(`CREATE TABLE user (id TEXT NOT NULL PRIMARY KEY);
    CREATE TABLE session (id TEXT NOT NULL PRIMARY KEY, expires_at INTEGER NOT NULL, user_id TEXT NOT NULL REFERENCES user(id));
    INSERT INTO user (id) VALUES ('lucia-user');`);
  db.close();
});
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
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
async function withFetchApp(fetch: (request: Request) => Response | Promise<Response>, run: (browser: Browser) => Promise<void>) {
  const server = await new Promise<ReturnType<typeof serve>>((done) => {
    const s = serve({ fetch, port: 0, hostname: "127.0.0.1" }, () => done(s));
  });
  try {
    await run(new Browser(`http://127.0.0.1:${(server.address() as { port: number }).port}`));
  } finally {
    await new Promise<void>((done) => server.close(() => done()));
  }
}
const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const cookieNamed = (response: Response, name: string) =>
  response.headers
    .getSetCookie()
    .map(parseSetCookie)
    .find((c) => c.name === name);

describe("migration guides type-check", () => {
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
    const problems: string[] = [];
    let previous: ts.Program | undefined;
    for (const group of [EXAMPLES, OWN_PROGRAM]) {
      const program = ts.createProgram(
        group.map(([guide, name]) => write(guide, name)),
        options,
        undefined,
        previous,
      );
      previous = program;
      for (const d of ts.getPreEmitDiagnostics(program)) {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
        const file = d.file ? d.file.fileName.slice(outDir.length + 1) : "program";
        problems.push(`${file}${where ? `:${where.line + 1}` : ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      }
    }
    expect(problems).toEqual([]);
  }, 120_000);
});

describe("migration guides run as written", () => {
  it("express-session step 1: the bridge under express-session", async () => {
    const { app } = await load<{ app: NodeApp }>("express-session", "bridge");
    await withNodeApp(app, async (browser) => {
      expect(await browser.json("/visit", { method: "POST" })).toEqual({ views: 1 });
      expect(browser.cookies.has("connect.sid")).toBe(true);
      expect(await browser.json("/visit", { method: "POST" })).toEqual({ views: 2 });
    });
  });

  it("express-session step 2: Passport on sessionkit/express (returnTo, flash, remember me, logout)", async () => {
    const { app } = await load<{ app: NodeApp }>("express-session", "passport");
    await withNodeApp(app, async (browser) => {
      const guarded = await browser.fetch("/account");
      expect(guarded.headers.get("location")).toBe("/login");
      const wrong = await browser.fetch("/login", form({ username: "ada", password: "x" }));
      expect(wrong.headers.get("location")).toBe("/login");
      expect(await browser.json("/login")).toEqual({ errors: ["Wrong name or password"] });
      const login = await browser.fetch("/login", form({ username: "ada", password: "lovelace" }));
      expect(login.headers.get("location")).toBe("/account"); // returnTo survived the login
      expect(await browser.json("/account")).toEqual({ name: "ada" });
      await browser.fetch("/logout", { method: "POST" });
      expect((await browser.fetch("/account")).headers.get("location")).toBe("/login");

      const remembered = await browser.fetch("/login/remember", form({ username: "ada", password: "lovelace" }));
      expect(cookieNamed(remembered, "sid")?.attributes.get("max-age")).toBe(String(30 * 24 * 3600));
      expect(await browser.json("/account")).toEqual({ name: "ada" });
    });
  });

  it("@fastify/session: @fastify/passport on sessionkit/fastify", async () => {
    const { app } = await load<{ app: import("fastify").FastifyInstance }>("fastify-session", "passport");
    await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const browser = new Browser(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
      expect(await browser.json("/cart", { method: "POST" })).toEqual({ cart: ["apple"] });
      const login = await browser.fetch("/login", json({ username: "ada", password: "lovelace" }));
      expect(login.headers.get("location")).toBe("/me");
      expect(await browser.json("/me")).toEqual({ name: "ada" });
      await browser.fetch("/logout", { method: "POST" });
      expect(await browser.json("/me")).toEqual({ name: null });
    } finally {
      await app.close();
    }
  });

  it("iron-session: the old cookie is read once, converted, and cleared", async () => {
    type Handler = (request: Request) => Promise<Response>;
    const { GET, POST } = await load<{ GET: Handler; POST: Handler }>("iron-session", "convert");
    await withFetchApp(
      (request) => (request.method === "POST" ? POST(request) : GET(request)),
      async (browser) => {
        browser.cookies.set(
          "myapp_session",
          await sealData({ user: { id: "u-iron" }, cart: ["pear"] }, { password: IRON_PASSWORD }),
        );
        const first = await browser.fetch("/");
        expect(await first.json()).toEqual({ user: "u-iron", cart: ["pear"] });
        expect(cookieNamed(first, "myapp_session")?.attributes.get("max-age")).toBe("0");
        expect(browser.cookies.has("myapp_session")).toBe(false);
        expect(browser.cookies.has("sid")).toBe(true);
        await browser.fetch("/", json({ item: "fig" }));
        expect(await browser.json("/")).toEqual({ user: "u-iron", cart: ["pear", "fig"] });

        // A forged or foreign seal converts nothing, and is cleared too.
        const other = new Browser(browser.base);
        other.cookies.set("myapp_session", await sealData({ user: { id: "admin" } }, { password: "x".repeat(40) }));
        const forged = await other.fetch("/");
        expect(await forged.json()).toEqual({ user: null, cart: [] });
        expect(other.cookies.has("myapp_session")).toBe(false);
      },
    );
  });

  it("Lucia v3: a valid Lucia session becomes a sessionkit session once; its row and cookie are gone", async () => {
    const { app } = await load<{ app: { fetch: (request: Request) => Response | Promise<Response> } }>("lucia", "convert");
    const db = new Database(LUCIA_DB);
    const future = Math.floor(Date.now() / 1000) + 3600;
    db.prepare("INSERT INTO session (id, expires_at, user_id) VALUES (?, ?, ?)").run("lucia-live", future, "lucia-user");
    db.prepare("INSERT INTO session (id, expires_at, user_id) VALUES (?, ?, ?)").run("lucia-old", future - 7200, "lucia-user");
    try {
      await withFetchApp(app.fetch, async (browser) => {
        browser.cookies.set("auth_session", "lucia-live");
        const first = await browser.fetch("/me");
        expect(await first.json()).toEqual({ user: "lucia-user" });
        expect(browser.cookies.has("auth_session")).toBe(false);
        expect(db.prepare("SELECT count(*) AS n FROM session WHERE id = ?").get("lucia-live")).toEqual({ n: 0 });
        expect(await browser.json("/me")).toEqual({ user: "lucia-user" }); // on the sessionkit cookie alone

        const replay = new Browser(browser.base);
        replay.cookies.set("auth_session", "lucia-live");
        expect(await replay.json("/me")).toEqual({ user: null });

        const expired = new Browser(browser.base);
        expired.cookies.set("auth_session", "lucia-old");
        expect(await expired.json("/me")).toEqual({ user: null });

        await browser.fetch("/logout", { method: "POST" });
        expect(await browser.json("/me")).toEqual({ user: null });
      });
    } finally {
      db.close();
    }
  });
});
