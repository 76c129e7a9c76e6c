import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

/**
 * The README's Next.js, React Router and SvelteKit quick-starts, written out as modules (with
 * "sessionkit/..." pointed at the sources through the export map, as readme-examples.test.ts
 * does), type-checked under the strict options with the Bundler resolution these frameworks'
 * own tsconfigs use, and run by calling their exports the way the framework would. The full
 * apps, built and served, are in test/frameworks/; here the Next.js request scope
 * (`cookies()` / `headers()`) is a stand-in.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const readme = readFileSync(join(root, "README.md"), "utf8");
const exportsMap = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> }).exports;
const outDir = join(root, "test/readme", `.generated-frameworks-${process.pid}`);
const SECTIONS = ["next", "react-router", "sveltekit"];

// The request Next.js would be serving: headers() and cookies() read and write it.
const request = { headers: new Headers(), jar: new Map<string, string>(), set: [] as Array<Record<string, unknown>> };
vi.mock("next/headers.js", () => ({
  headers: async () => request.headers,
  cookies: async () => ({
    getAll: () => [...request.jar].map(([name, value]) => ({ name, value })),
    set: (cookie: { name: string; value: string; maxAge?: number }) => {
      request.set.push(cookie);
      if (cookie.maxAge === 0 || cookie.value === "") request.jar.delete(cookie.name);
      else request.jar.set(cookie.name, cookie.value);
    },
  }),
}));

function sourceOf(specifier: string): string {
  const key = specifier === "sessionkit" ? "." : `./${specifier.slice("sessionkit/".length)}`;
  const built = (exportsMap[key] as { import?: { default?: string } } | undefined)?.import?.default;
  if (!built) throw new Error(`README imports ${specifier}, which package.json does not export`);
  return join(root, built.replace(/^\.\/dist\//, "src/"));
}

function write(name: string): string {
  const start = readme.indexOf(`<!-- section:${name} -->`);
  const end = readme.indexOf(`<!-- /section:${name} -->`);
  if (start < 0 || end < start) throw new Error(`README has no section ${name}`);
  const blocks = [...readme.slice(start, end).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  if (blocks.length !== 1) throw new Error(`README section ${name} should hold exactly one ts block, has ${blocks.length}`);
  const code = (blocks[0] as string).replace(
    /(["'])(sessionkit(?:\/[\w-]+)?)\1/g,
    (_m, q: string, spec: string) => `${q}${sourceOf(spec)}${q}`,
  );
  const file = join(outDir, `${name}.ts`);
  writeFileSync(file, code);
  return file;
}

beforeAll(() => {
  process.env.SESSION_SECRET ??= "readme-example-secret-of-at-least-32-bytes";
  mkdirSync(outDir, { recursive: true });
});
afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe("README framework quick-starts", () => {
  it("type-check (strict, Bundler resolution as in Next.js, React Router and SvelteKit apps)", () => {
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
    const options = {
      ...config.options,
      noEmit: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
    };
    const program = ts.createProgram(SECTIONS.map(write), options);
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : "";
      return `${d.file?.fileName ?? ""}:${where}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
    expect(problems).toEqual([]);
  }, 120_000);

  it("next: a server action signs in, a server component reads, the proxy peeks", async () => {
    type NextRequest = import("next/server.js").NextRequest;
    const mod = (await import(write("next"))) as {
      signIn(form: FormData): Promise<void>;
      Greeting(): Promise<string>;
      proxy(request: NextRequest): Response;
    };
    const { NextRequest } = await import("next/server.js");
    expect(await mod.Greeting()).toBe("Please sign in");
    const blocked = mod.proxy(new NextRequest("http://localhost/account"));
    expect(blocked.status).toBe(307);

    const form = new FormData();
    form.set("name", "ada");
    await mod.signIn(form);
    expect(request.set).toHaveLength(1);
    expect(request.set[0]).toMatchObject({ httpOnly: true, sameSite: "lax", path: "/" });
    expect(await mod.Greeting()).toBe("Hello, ada");

    const cookie = [...request.jar].map(([k, v]) => `${k}=${v}`).join("; ");
    const passed = mod.proxy(new NextRequest("http://localhost/account", { headers: { cookie } }));
    expect(passed.headers.get("x-middleware-next")).toBe("1");
  });

  it("react-router: the action signs in and flashes, the loader reads", async () => {
    const mod = (await import(write("react-router"))) as {
      action(args: { request: Request }): Promise<Response>;
      loader(args: { request: Request }): Promise<Response>;
    };
    const login = await mod.action({
      request: new Request("http://localhost/login", { method: "POST", body: new URLSearchParams({ name: "ada" }) }),
    });
    expect(login.status).toBe(302);
    const cookie = (login.headers.get("set-cookie") as string).split(";")[0] as string;
    const get = () => mod.loader({ request: new Request("http://localhost/", { headers: { cookie } }) });
    expect(await (await get()).json()).toEqual({ name: "ada", message: "Welcome, ada" });
    expect(await (await get()).json()).toEqual({ name: "ada", message: null });
  });

  it("sveltekit: the handle puts the session on locals and commits it", async () => {
    const mod = (await import(write("sveltekit"))) as {
      handle: (input: { event: unknown; resolve: (event: unknown) => Promise<Response> }) => Promise<Response>;
      load(event: { locals: { session: unknown } }): Promise<{ visits: number }>;
    };
    let cookie = "";
    const visit = async () => {
      const event = {
        request: new Request("http://localhost/", { headers: cookie ? { cookie } : {} }),
        locals: {} as { session: unknown },
        getClientAddress: () => "127.0.0.1",
      };
      const response = await mod.handle({
        event,
        resolve: async (e) => Response.json(await mod.load(e as typeof event)),
      });
      const line = response.headers.getSetCookie()[0];
      if (line) cookie = line.split(";")[0] as string;
      return response.json();
    };
    expect(await visit()).toEqual({ visits: 1 });
    expect(await visit()).toEqual({ visits: 2 });
  });
});
