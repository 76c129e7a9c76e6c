import { describe, expectTypeOf, it } from "vitest";
import { createSessions, type Session } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";

interface AppData {
  cart: string[];
  visits: number;
}

describe("public types", () => {
  it("get and set are typed by the data generic", async () => {
    const sessions = createSessions<AppData>({ store: memoryStore(), secrets: ["x".repeat(32)] });
    const session = await sessions.load(new Request("http://localhost/"));
    expectTypeOf(session).toEqualTypeOf<Session<AppData>>();
    expectTypeOf(session.get("cart")).toEqualTypeOf<string[] | undefined>();
    expectTypeOf(session.get("visits")).toEqualTypeOf<number | undefined>();
    // @ts-expect-error: not a key of AppData
    session.get("nope");
    // @ts-expect-error: wrong value type
    session.set("visits", "many");
    expectTypeOf(session.userId).toEqualTypeOf<string | null>();
    expectTypeOf(session.authenticatedAt).toEqualTypeOf<Date | null>();
    expectTypeOf(sessions.peek).returns.toEqualTypeOf<Partial<AppData> | null>();
    expectTypeOf(sessions.commit).returns.resolves.toEqualTypeOf<Headers>();
  });

  it("cookieKeys only accepts data keys", () => {
    createSessions<AppData>({ store: memoryStore(), secrets: ["x".repeat(32)], cookieKeys: ["visits"] });
    // @ts-expect-error: not a key of AppData
    createSessions<AppData>({ store: memoryStore(), secrets: ["x".repeat(32)], cookieKeys: ["nope"] });
  });

  it("untyped sessions accept any key", async () => {
    const sessions = createSessions({ store: memoryStore(), secrets: ["x".repeat(32)] });
    const session = await sessions.load(new Headers());
    expectTypeOf(session.get("anything")).toEqualTypeOf<unknown>();
  });
});
