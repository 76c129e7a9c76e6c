/**
 * The engine on a real store: races of one session's requests, through `createSessions`, the
 * way a busy app and an attacker produce them. Part of the conformance suite (every store
 * runs it); two engines on one store stand for two app processes (each queues only its own
 * commits, so they meet in the store's compare-and-set).
 */
import { expect } from "vitest";
import type { Duration, SessionEvents, SessionStore, Sessions } from "../../src/index.js";
import { createSessions } from "../../src/index.js";
import { type ConformanceOptions, editThroughUpdate } from "./store.case.js";

const SECRET = "conformance-secret-0123456789abcdef0123456789";
type Test = (name: string, fn: () => Promise<void>, timeout?: number) => void;
type Engine = Sessions<Record<string, unknown>>;

const cookieOf = (headers: Headers): string | null => headers.getSetCookie()[0]?.split(";")[0] ?? null;
const req = (cookie: string | null) => new Request("http://localhost/", { headers: cookie ? { cookie } : {} });
const isLive = async (sessions: Engine, cookie: string | null) =>
  cookie !== null && !cookie.endsWith("=") && !(await sessions.load(req(cookie))).isNew;

/**
 * `cache`: run every case with the near-cache on in both engines (`createSessions({ cache })`),
 * so the same races also go through cache hits, invalidations and write-through.
 */
export function runEngineCases(
  test: Test,
  currentStore: () => SessionStore,
  options: ConformanceOptions,
  heavy: number,
  cache?: { maxEntries: number; ttl: Duration },
) {
  const rounds = options.raceRounds ?? 200;
  const editRaw = options.editRaw ?? editThroughUpdate;
  const label = cache ? "engine + near-cache" : "engine";

  /** Two engines: `a` on the store, `b` on a second handle (two processes), same secrets and clock. */
  async function engines(extra: Partial<Parameters<typeof createSessions>[0]> = {}) {
    const store = currentStore();
    const second = options.openSecond ? await options.openSecond(store) : store;
    // Closing an engine stops its cache's subscription and closes its store: the suite's
    // store stays open (dropStore needs it), the second handle is closed once below.
    const keepOpen = (s: SessionStore) => Object.create(s, { close: { value: async () => {} } }) as SessionStore;
    const make = (s: SessionStore) =>
      createSessions({ store: keepOpen(s), secrets: [SECRET], touchInterval: 0, ...(cache ? { cache } : {}), ...extra });
    const a = make(store);
    const b = make(second);
    const closeSecond = async () => {
      await Promise.all([a.close(), b.close()]);
      if (second !== store) await second.close();
    };
    return { a, b, store, closeSecond };
  }

  async function seed(sessions: Engine, data: Record<string, unknown> = { base: 1 }, userId?: string) {
    const s = await sessions.load(req(null));
    for (const [k, v] of Object.entries(data)) s.set(k, v);
    if (userId) await s.login(userId);
    const cookie = cookieOf(await sessions.commit(s)) as string;
    return { cookie, id: s.id };
  }

  test(
    `${label}: ${rounds} concurrent requests each setting its own key on one session: all kept, 0 errors`,
    async () => {
      const { a, closeSecond } = await engines();
      const { cookie } = await seed(a);
      const loaded = await Promise.all(Array.from({ length: rounds }, () => a.load(req(cookie))));
      for (const [i, s] of loaded.entries()) s.set(`k${i}`, i);
      const results = await Promise.allSettled(loaded.map((s) => a.commit(s)));
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const final = await a.load(req(cookie));
      expect(final.keys().length).toBe(rounds + 1);
      for (let i = 0; i < rounds; i++) expect(final.get(`k${i}`)).toBe(i);
      await closeSecond();
    },
    heavy,
  );

  test(
    `${label}: ${rounds} writers of one session split across two engines (two processes): all kept, 0 errors`,
    async () => {
      const { a, b, closeSecond } = await engines({ retryBudget: "20s" });
      const { cookie } = await seed(a);
      const loaded = await Promise.all(Array.from({ length: rounds }, (_, i) => (i % 2 ? b : a).load(req(cookie))));
      for (const [i, s] of loaded.entries()) s.set(`k${i}`, i);
      const results = await Promise.allSettled(loaded.map((s, i) => (i % 2 ? b : a).commit(s)));
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      const final = await a.load(req(cookie));
      for (let i = 0; i < rounds; i++) expect(final.get(`k${i}`)).toBe(i);
      await closeSecond();
    },
    heavy,
  );

  /**
   * Live, and with the near-cache still live 200 ms later. Here both engines share one process:
   * a revoke's message can reach the other engine's connection a moment after the revoking
   * one's (PostgreSQL delivers from each listening backend on its own), which a request from
   * another process would not arrive within. What must never happen is a cache that keeps
   * serving a revoked session; "the very next request" across processes is
   * test/multi-server/near-cache.test.ts.
   */
  async function stillLive(sessions: Engine, cookie: string | null): Promise<boolean> {
    if (!(await isLive(sessions, cookie))) return false;
    if (!cache) return true;
    for (const end = Date.now() + 200; Date.now() < end; ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (!(await isLive(sessions, cookie))) return false;
    }
    return true;
  }

  /** Runs `rounds` rounds of a race and counts sessions that survived it (must be 0). */
  async function race(
    name: string,
    act: (ctx: { a: Engine; b: Engine; cookie: string; id: string; round: number }) => Promise<Array<string | null>>,
    userId?: string,
  ) {
    const { a, b, store, closeSecond } = await engines();
    let survived = 0;
    for (let round = 0; round < rounds; round++) {
      const { cookie, id } = await seed(a, { base: round }, userId);
      const cookies = await act({ a, b: round % 2 ? b : a, cookie, id, round });
      const live = (await Promise.all([cookie, ...cookies].map((c) => stillLive(a, c)))).filter(Boolean).length;
      if (live > 0 || (await store.get(id, Date.now())) !== null) survived++;
    }
    await closeSecond();
    expect(survived, `${name}: sessions that survived`).toBe(0);
  }

  const login = async (sessions: Engine, cookie: string, user = "u") => {
    const s = await sessions.load(req(cookie));
    await s.login(user);
    return s;
  };

  test(
    `${label}: destroy racing login or rotate, ${rounds} rounds: 0 sessions survive`,
    () =>
      race("destroy vs login/rotate", async ({ a, b, cookie, round }) => {
        const rotating = round % 4 < 2 ? await login(a, cookie) : await a.load(req(cookie));
        if (round % 4 >= 2) rotating.rotate();
        const destroying = await b.load(req(cookie));
        destroying.destroy();
        const order = round % 3 === 0 ? [destroying, rotating] : [rotating, destroying];
        const headers = await Promise.all(order.map((s) => (s === destroying ? b : a).commit(s)));
        return headers.map(cookieOf);
      }),
    heavy,
  );

  test(
    `${label}: revoke racing login or rotate, ${rounds} rounds: 0 sessions survive and revoke reports it`,
    async () => {
      let notReported = 0;
      await race("revoke vs login/rotate", async ({ a, b, cookie, id, round }) => {
        const rotating = round % 2 ? await login(a, cookie) : await a.load(req(cookie));
        if (!(round % 2)) rotating.rotate();
        const [headers, revoked] = await Promise.all([a.commit(rotating), b.revoke(id)]);
        if (!revoked) notReported++;
        return [cookieOf(headers)];
      });
      expect(notReported).toBe(0);
    },
    heavy,
  );

  test(
    `${label}: revokeUser racing the user's own login or rotate, ${rounds} rounds: 0 sessions survive`,
    () =>
      race(
        "revokeUser vs login/rotate",
        async ({ a, b, cookie, round }) => {
          const rotating = round % 2 ? await login(a, cookie, "u") : await a.load(req(cookie));
          if (!(round % 2)) rotating.rotate();
          const [headers] = await Promise.all([a.commit(rotating), b.revokeUser("u")]);
          return [cookieOf(headers)];
        },
        "u",
      ),
    heavy,
  );

  test(
    `${label}: login racing rotate, ${rounds} rounds: exactly one live token, one row, the same id`,
    async () => {
      const { a, b, store, closeSecond } = await engines();
      let bad = 0;
      for (let round = 0; round < rounds; round++) {
        const other = round % 2 ? b : a;
        const { cookie, id } = await seed(a, { base: round });
        const signingIn = await login(a, cookie);
        const rotating = await other.load(req(cookie));
        rotating.rotate();
        const [h1, h2] = await Promise.all([a.commit(signingIn), other.commit(rotating)]);
        const cookies = [cookie, cookieOf(h1), cookieOf(h2)];
        const live = (await Promise.all(cookies.map((c) => isLive(a, c)))).filter(Boolean).length;
        const row = await store.get(id, Date.now());
        if (live !== 1 || row === null || row.userId !== "u" || signingIn.id !== id) bad++;
      }
      await closeSecond();
      expect(bad).toBe(0);
    },
    heavy,
  );

  test(
    `${label}: a read racing a login never clears or replaces the login cookie`,
    async () => {
      const { a, b, closeSecond } = await engines();
      let harmed = 0;
      for (let round = 0; round < Math.min(rounds, 50); round++) {
        const reader = round % 2 ? b : a;
        const { cookie } = await seed(a);
        const reading = await reader.load(req(cookie));
        const signingIn = await login(a, cookie);
        const loginCookie = cookieOf(await a.commit(signingIn));
        await new Promise((r) => setTimeout(r, 2)); // the reader's touch is due (touchInterval 0)
        const headers = await reader.commit(reading);
        if (headers.getSetCookie().length > 0 || !(await isLive(a, loginCookie))) harmed++;
      }
      await closeSecond();
      expect(harmed).toBe(0);
    },
    heavy,
  );

  test(`${label}: login and rotation keep the row and session.id; the old token is dead`, async () => {
    const { a, store, closeSecond } = await engines();
    const { cookie, id } = await seed(a, { cart: 1 });
    const s = await login(a, cookie, "alice");
    const after = cookieOf(await a.commit(s)) as string;
    expect(s.id).toBe(id);
    expect((await a.load(req(after))).id).toBe(id);
    expect(await isLive(a, cookie)).toBe(false);
    expect((await store.listByUser("alice", Date.now())).map((r) => r.id)).toEqual([id]);
    await closeSecond();
  });

  test(`${label}: rows edited in the table (user id, creation time, data swapped) are refused as undecodable`, async () => {
    const { a, store, closeSecond } = await engines();
    const reasons: Array<SessionEvents["invalid-token"]["reason"]> = [];
    a.on("invalid-token", (e) => reasons.push(e.reason));
    const alice = await seed(a, { role: "user" }, "alice");
    const bob = await seed(a, { role: "admin" }, "bob");
    await editRaw(store, alice.id, { userId: "bob" });
    const asBob = await a.load(req(alice.cookie));
    expect(asBob.isNew).toBe(true);
    expect(asBob.userId).toBeNull();

    const carol = await seed(a, { x: 1 }, "carol");
    await editRaw(store, carol.id, { createdAt: Date.now() + 86_400_000 });
    expect((await a.load(req(carol.cookie))).isNew).toBe(true);

    const bobRow = (await store.get(bob.id, Date.now())) as StoredSessionLike;
    const dave = await seed(a, { role: "user" }, "bob");
    await editRaw(store, dave.id, { data: bobRow.data });
    expect((await a.load(req(dave.cookie))).isNew).toBe(true);

    expect(reasons).toEqual(["undecodable", "undecodable", "undecodable"]);
    expect((await a.load(req(bob.cookie))).get("role")).toBe("admin"); // untouched rows still load
    await closeSecond();
  });

  test(`${label}: a commit never brings back a session revoked meanwhile`, async () => {
    const { a, b, store, closeSecond } = await engines();
    const { cookie, id } = await seed(a, { a: 1 });
    const late = await a.load(req(cookie));
    expect(await b.revoke(id)).toBe(true);
    late.set("a", 2);
    const headers = await a.commit(late);
    expect(late.interrupted).toBe(true);
    expect(headers.get("set-cookie")).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
    expect(await store.get(id, Date.now())).toBeNull(); // the id captured before the commit
    await closeSecond();
  });
}

type StoredSessionLike = { data: Uint8Array };
