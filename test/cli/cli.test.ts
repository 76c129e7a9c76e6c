/**
 * The `sessionkit` CLI, run as users run it: the built `dist/cli/main.js` in a child process,
 * with its output and exit code checked. `npm test` builds first.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoredSession } from "../../src/index.js";
import { sqliteStore } from "../../src/stores/sqlite.js";
import { newId, record } from "../conformance/store.case.js";

const CLI = join(process.cwd(), "dist", "cli", "main.js");
const dir = mkdtempSync(join(tmpdir(), "sessionkit-cli-"));
let counter = 0;
const tempPath = (name = "s") => join(dir, `${name}-${++counter}.sqlite`);
const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const { SESSIONKIT_STORE: _ignored, ...parentEnv } = process.env;
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...parentEnv, ...env },
    encoding: "utf8",
    cwd: dir,
    timeout: 30_000,
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

/** `list --json` prints JSON Lines: one object per line. */
const jsonLines = (out: string) =>
  out
    .trimEnd()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

const HOUR = 3_600_000;
const now = Date.now();

/** A store file with known sessions: alice 3 live + 1 expired, bob 2 live, 4 anonymous expired. */
async function seeded() {
  const path = tempPath("seeded");
  const store = sqliteStore({ path });
  const alice: StoredSession[] = [0, 1, 2].map((i) =>
    record({
      userId: "alice",
      createdAt: now - 10 * HOUR,
      lastActiveAt: now - (3 - i) * 60_000,
      expiresAt: now + HOUR,
      ip: `198.51.100.${i}`,
      userAgent: `Browser ${i}`,
    }),
  );
  const aliceNoExpiry = alice[2] as StoredSession;
  aliceNoExpiry.expiresAt = null;
  aliceNoExpiry.ip = null;
  const bob = [record({ userId: "bob", expiresAt: now + HOUR }), record({ userId: "bob", expiresAt: now + HOUR })];
  const expired = [
    record({ userId: "alice", expiresAt: now - HOUR }),
    ...Array.from({ length: 4 }, () => record({ expiresAt: now - 1 })),
  ];
  for (const r of [...alice, ...bob, ...expired]) await store.create(r);
  await store.close();
  return { path, url: `sqlite:${path}`, alice, bob, expired };
}

describe("sessionkit CLI: usage", () => {
  const commands = ["migrate", "schema", "prune", "list", "revoke", "revoke-user", "stats"];

  it("--help lists every command and the store URL", () => {
    const { code, out } = cli(["--help"]);
    expect(code).toBe(0);
    for (const c of commands) expect(out).toContain(c);
    expect(out).toMatch(/SESSIONKIT_STORE/);
    expect(out).toMatch(/Exit codes: 0 done, 1 the operation failed, 2 wrong usage/);
  });

  it.each(commands)("%s --help explains the command and its --store option", (command) => {
    const { code, out } = cli([command, "--help"]);
    expect(code).toBe(0);
    expect(out).toContain(`Usage: sessionkit ${command}`);
    expect(out).toMatch(/--store <url>.*\n?.*sqlite:\.\/sessions\.sqlite/);
    expect(out).toMatch(/env:\s+SESSIONKIT_STORE/);
  });

  it("--version prints the package version", () => {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { version: string };
    const { code, out } = cli(["--version"]);
    expect(code).toBe(0);
    expect(out.trim()).toBe(pkg.version);
  });

  it("no command: the help on stderr, exit 2", () => {
    const { code, err } = cli([]);
    expect(code).toBe(2);
    expect(err).toContain("Usage: sessionkit");
  });

  it("an unknown command: a clear message, exit 2", () => {
    const { code, err } = cli(["purge"]);
    expect(code).toBe(2);
    expect(err).toMatch(/unknown command 'purge'/);
    expect(err).toMatch(/prune/); // the suggestion
  });

  it("a missing argument or a bad option value: exit 2", () => {
    const url = `sqlite:${tempPath()}`;
    const missing = cli(["list", "--store", url]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/missing required argument 'userId'/);
    const bad = cli(["prune", "--batch-size", "zero", "--store", url]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--batch-size.*'zero' is invalid.*positive integer/);
    const unknown = cli(["stats", "--verbose", "--store", url]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown option '--verbose'/);
  });

  it("no store: says how to give one, exit 2", () => {
    const { code, err } = cli(["stats"]);
    expect(code).toBe(2);
    expect(err).toMatch(/no store given: pass --store URL or set SESSIONKIT_STORE \(for example sqlite:\.\/sessions\.sqlite[,)]/);
  });

  it("an unknown store scheme or URL parameter: exit 2", () => {
    const scheme = cli(["stats", "--store", "mongodb://localhost/x"]);
    expect(scheme.code).toBe(2);
    expect(scheme.err).toMatch(/unknown store scheme "mongodb:".*known: sqlite:/);
    const noScheme = cli(["stats", "--store", "./sessions.sqlite"]);
    expect(noScheme.code).toBe(2);
    expect(noScheme.err).toMatch(/has no scheme/);
    const param = cli(["stats", "--store", "sqlite:./x.sqlite?tabel=foo"]);
    expect(param.code).toBe(2);
    expect(param.err).toMatch(/unknown parameter "tabel"/);
  });
});

describe("sessionkit CLI: commands", () => {
  let fixture: Awaited<ReturnType<typeof seeded>>;
  beforeAll(async () => {
    fixture = await seeded();
  });

  it("migrate creates the database and schema, and is safe to repeat", () => {
    const path = tempPath("fresh");
    const first = cli(["migrate", "--store", `sqlite:${path}`]);
    expect(first).toMatchObject({ code: 0, err: "" });
    expect(first.out).toMatch(
      new RegExp(`^created the sessions table \\(schema version \\d+\\): ${path} \\(table sessions\\)\n$`),
    );
    expect(existsSync(path)).toBe(true);
    const version = /schema version (\d+)/.exec(first.out)?.[1];
    const same = cli(["migrate", "--store", `sqlite:${path}`]);
    expect(same.out).toBe(`already at schema version ${version}, nothing to do: ${path} (table sessions)\n`);
    const again = cli(["migrate"], { SESSIONKIT_STORE: `sqlite:${path}?table=other` });
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^created the sessions table .*\(table other\)/);
    expect(cli(["stats", "--store", `sqlite:${path}?table=other`]).code).toBe(0);
  });

  it("migrate into a directory that does not exist, or onto a file that is not a database: exit 1, nothing touched", () => {
    const missing = join(dir, "nope", "s.sqlite");
    const a = cli(["migrate", "--store", `sqlite:${missing}`]);
    expect(a.code).toBe(1);
    expect(a.err).toMatch(/cannot open .*nope\/s\.sqlite: the directory .*nope does not exist.*mkdir -p/);
    expect(existsSync(join(dir, "nope"))).toBe(false);

    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "not a database at all\n".repeat(20));
    const before = sha(notes);
    const b = cli(["migrate", "--store", `sqlite:${notes}`]);
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/notes\.txt: it is not a SQLite database. Nothing was changed/);
    expect(sha(notes)).toBe(before);
  });

  it("commands other than migrate never create a database", () => {
    const path = tempPath("absent");
    const { code, err } = cli(["stats", "--store", `sqlite:${path}`]);
    expect(code).toBe(1);
    expect(err).toMatch(/no database at .*absent.*sessionkit migrate --store/);
    expect(existsSync(path)).toBe(false);
  });

  it("schema prints the DDL without opening anything", () => {
    const path = tempPath("never");
    const { code, out } = cli(["schema", "--store", `sqlite:${path}?table=app_sessions`]);
    expect(code).toBe(0);
    expect(out).toMatch(/^-- sessionkit SQLite schema, version \d+, table app_sessions/);
    expect(out).toMatch(/CREATE TABLE IF NOT EXISTS "app_sessions" \(\n {2}id TEXT PRIMARY KEY NOT NULL,/);
    expect(out).toMatch(/CREATE INDEX IF NOT EXISTS "app_sessions_user_id" ON "app_sessions" \(user_id\);/);
    expect(out).toMatch(/CREATE INDEX IF NOT EXISTS "app_sessions_expires_at" ON "app_sessions" \(expires_at\);/);
    expect(existsSync(path)).toBe(false);
  });

  it("stats: total, active, expired not yet pruned, top users", () => {
    const { code, out, err } = cli(["stats", "--store", fixture.url]);
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out).toMatch(/^total\s+10$/m);
    expect(out).toMatch(/^active\s+5$/m);
    expect(out).toMatch(/^expired, not yet pruned\s+5$/m);
    expect(out).toMatch(/top 10 users by active sessions:\nUSER\s+ACTIVE SESSIONS\nalice\s+3\nbob\s+2\n/);
    const json = cli(["stats", "--json", "--top", "1"], { SESSIONKIT_STORE: fixture.url });
    expect(JSON.parse(json.out)).toEqual({ total: 10, active: 5, expired: 5, topUsers: [{ userId: "alice", count: 3 }] });
  });

  it("list: a table of a user's live sessions, most recently active first, times in ISO", () => {
    const { code, out } = cli(["list", "alice", "--store", fixture.url]);
    expect(code).toBe(0);
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+CREATED\s+LAST ACTIVE\s+EXPIRES\s+IP\s+USER AGENT$/);
    expect(lines).toHaveLength(4); // the expired session is not listed
    const [newest, middle, oldest] = [...fixture.alice].reverse() as [StoredSession, StoredSession, StoredSession];
    expect(lines[1]?.split(/ {2,}/)).toEqual([
      newest.id,
      new Date(newest.createdAt).toISOString(),
      new Date(newest.lastActiveAt).toISOString(),
      "never",
      "-",
      "Browser 2",
    ]);
    expect(lines[2]).toContain(middle.id);
    expect(lines[2]).toContain(new Date(middle.expiresAt as number).toISOString());
    expect(lines[2]).toContain("198.51.100.1");
    expect(lines[3]).toContain(oldest.id);
    const json = jsonLines(cli(["list", "alice", "--json", "--store", fixture.url]).out);
    expect(json.map((s) => s.id)).toEqual([newest.id, middle.id, oldest.id]);
    expect(json[1]).toEqual({
      id: middle.id,
      userId: "alice",
      createdAt: new Date(middle.createdAt).toISOString(),
      lastActiveAt: new Date(middle.lastActiveAt).toISOString(),
      expiresAt: new Date(middle.expiresAt as number).toISOString(),
      ip: "198.51.100.1",
      userAgent: "Browser 1",
      meta: middle.meta,
    });
    const none = cli(["list", "nobody", "--store", fixture.url]);
    expect(none).toMatchObject({ code: 0, out: 'no live sessions for user "nobody"\n' });
    expect(cli(["list", "nobody", "--json", "--store", fixture.url])).toMatchObject({ code: 0, out: "" });
  });

  it("list --limit N: the N most recently active; with --json too", () => {
    const [newest, middle] = [...fixture.alice].reverse() as [StoredSession, StoredSession];
    const lines = cli(["list", "alice", "--limit", "2", "--store", fixture.url]).out.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toContain(newest.id);
    expect(lines[2]).toContain(middle.id);
    expect(jsonLines(cli(["list", "alice", "-n", "1", "--json", "--store", fixture.url]).out).map((s) => s.id)).toEqual([
      newest.id,
    ]);
    const bad = cli(["list", "alice", "--limit", "0", "--store", fixture.url]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--limit.*'0' is invalid.*positive integer/);
  });

  it("revoke: deletes one session; a second time exit 1; a malformed id exit 2", () => {
    const target = fixture.bob[0] as StoredSession;
    const first = cli(["revoke", target.id, "--store", fixture.url]);
    expect(first).toMatchObject({ code: 0, out: `revoked session ${target.id}\n` });
    const again = cli(["revoke", target.id, "--store", fixture.url]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/no session [0-9a-f]{32} \(already revoked/);
    const unknown = cli(["revoke", newId(), "--store", fixture.url]);
    expect(unknown.code).toBe(1);
    const bad = cli(["revoke", "not-an-id", "--store", fixture.url]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/"not-an-id" is not a session id: expected 32 lowercase hex characters/);
    expect(cli(["list", "bob", "--json", "--store", fixture.url]).out).not.toContain(target.id);
  });

  it("revoke-user: deletes every session of the user", async () => {
    const f = await seeded();
    const { code, out } = cli(["revoke-user", "alice", "--store", f.url]);
    expect(code).toBe(0);
    expect(out).toBe('revoked 4 sessions of user "alice"\n'); // the expired one too
    expect(cli(["list", "alice", "--store", f.url]).out).toBe('no live sessions for user "alice"\n');
    expect(cli(["revoke-user", "alice", "--store", f.url]).out).toBe('revoked 0 sessions of user "alice"\n');
    expect(JSON.parse(cli(["stats", "--json", "--store", f.url]).out).active).toBe(2);
  });

  it("prune: a plain summary when not on a terminal, and only expired sessions go", async () => {
    const f = await seeded();
    const { code, out, err } = cli(["prune", "--batch-size", "2", "--store", f.url]);
    expect(code).toBe(0);
    expect(err).toBe(""); // no progress bar in a pipe
    expect(out).toMatch(/^pruned 5 expired sessions in 3 batches \(\d+\.\d\d s\)\n$/);
    const stats = JSON.parse(cli(["stats", "--json", "--store", f.url]).out);
    expect(stats).toMatchObject({ total: 5, active: 5, expired: 0 });
    expect(cli(["prune", "--store", f.url]).out).toMatch(/^pruned 0 expired sessions in 1 batch /);
  });

  it("prune --progress: draws the progress bar driven by the batches", async () => {
    const path = tempPath("many");
    const store = sqliteStore({ path });
    for (let i = 0; i < 300; i++) await store.create(record({ expiresAt: now - 1000 - i, data: new Uint8Array(4) }));
    await store.close();
    const { code, out, err } = cli(["prune", "--progress", "--batch-size", "100", "--store", `sqlite:${path}`]);
    expect(code).toBe(0);
    expect(err).toMatch(/pruning \[[█░]+\] 100% \| 300\/300 sessions/);
    expect(out).toMatch(/^pruned 300 expired sessions in 3 batches/);
  });

  // util-linux `script` gives the CLI a real terminal, as a person running it has.
  const hasScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;
  it.skipIf(!hasScript)("prune on a terminal: the progress bar without being asked", async () => {
    const path = tempPath("tty");
    const store = sqliteStore({ path });
    for (let i = 0; i < 50; i++) await store.create(record({ expiresAt: now - 1000 - i, data: new Uint8Array(4) }));
    await store.close();
    const command = [process.execPath, CLI, "prune", "--batch-size", "10", "--store", `sqlite:${path}`]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(" ");
    const { SESSIONKIT_STORE: _ignored, ...env } = process.env;
    const result = spawnSync("script", ["-qec", command, "/dev/null"], { encoding: "utf8", env, timeout: 30_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/pruning \[[█░]+\] 100% \| 50\/50 sessions/);
    expect(result.stdout).toMatch(/pruned 50 expired sessions in 5 batches/);
  });

  it("--store wins over SESSIONKIT_STORE", () => {
    const { code, out } = cli(["stats", "--json", "--store", fixture.url], { SESSIONKIT_STORE: "mongodb://nowhere" });
    expect(code).toBe(0);
    expect(JSON.parse(out).total).toBeGreaterThan(0);
  });

  it("a table sessionkit did not create: exit 1 with what to do, nothing touched", async () => {
    const path = tempPath("foreign");
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(path);
    db.exec("CREATE TABLE sessions (sid TEXT PRIMARY KEY, sess TEXT, expire INTEGER)");
    db.close();
    const before = sha(path);
    for (const command of ["migrate", "stats"]) {
      const { code, err } = cli([command, "--store", `sqlite:${path}`]);
      expect(code).toBe(1);
      expect(err).toMatch(/the table "sessions" in .*foreign.* was not created by sessionkit .*\?table=app_sessions/);
    }
    expect(sha(path)).toBe(before);
  });

  it("a table name that is not an identifier: exit 1, nothing created", () => {
    const path = tempPath("badname");
    const { code, err } = cli(["migrate", "--store", `sqlite:${path}?table=bad-name`]);
    expect(code).toBe(1);
    expect(err).toMatch(/table must be a plain SQL identifier/);
    expect(existsSync(path)).toBe(false);
  });
});

describe("sessionkit CLI: a reader that stops early (`sessionkit list ... | head`)", () => {
  let url: string;
  beforeAll(async () => {
    // Far more output than a pipe buffers (64 KiB), so writes go on after the reader is gone.
    const path = tempPath("many-of-one");
    const store = sqliteStore({ path });
    for (let i = 0; i < 1500; i++) {
      await store.create(record({ userId: "alice", lastActiveAt: now - i, expiresAt: now + HOUR, userAgent: "x".repeat(200) }));
    }
    await store.close();
    url = `sqlite:${path}`;
  });

  const entries = [
    ["dist/cli/main.js", CLI],
    ["bin/sessionkit.mjs", join(process.cwd(), "bin", "sessionkit.mjs")],
  ] as const;

  it.each(entries)("%s: the reader closes after the first chunk: exit 0, nothing on stderr", async (_name, entry) => {
    for (const args of [
      ["list", "alice"],
      ["list", "alice", "--json"],
    ]) {
      const { SESSIONKIT_STORE: _ignored, ...env } = process.env;
      const child = spawn(process.execPath, [entry, ...args, "--store", url], { env, stdio: ["ignore", "pipe", "pipe"] });
      let err = "";
      child.stderr.on("data", (c: Buffer) => {
        err += c.toString();
      });
      child.stdout.once("data", () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect(err).toBe("");
      expect(code).toBe(0);
    }
  });

  it("through a shell pipe into head: exit 0 under pipefail, only head's lines", () => {
    const quoted = [process.execPath, CLI, "list", "alice", "--store", url].map((a) => `'${a}'`).join(" ");
    const r = spawnSync("bash", ["-c", `set -o pipefail; ${quoted} | head -n 3`], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(3);
  });
});
