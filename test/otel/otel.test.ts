/**
 * sessionkit/otel with the OpenTelemetry SDK's in-memory exporters: the spans of load, commit
 * and each store call, the counters, and that no attribute ever carries a token, an id or a
 * user id. The core itself never imports @opentelemetry/api.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type DataPoint, type Histogram, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { openTelemetry } from "../../src/adapters/otel.js";
import { createSessions, type SessionStore, SessionStoreError } from "../../src/index.js";
import { memoryStore } from "../../src/stores/memory.js";
import { cookieOf, requestWith, SECRET, T0 } from "../helpers/engine.js";

/** A reader that exports nothing by itself: the test collects when it wants to. */
class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function telemetry() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const instrumentation = openTelemetry({
    tracer: tracerProvider.getTracer("test"),
    meter: meterProvider.getMeter("test"),
  });

  async function points() {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  }
  /** The sum of a counter, over the points whose attributes include `where`. */
  async function count(name: string, where: Record<string, unknown> = {}): Promise<number> {
    const metric = (await points()).find((m) => m.descriptor.name === name);
    if (!metric) return 0;
    return (metric.dataPoints as DataPoint<number>[])
      .filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v))
      .reduce((sum, p) => sum + p.value, 0);
  }
  return { spans, instrumentation, points, count, shutdown: () => meterProvider.shutdown() };
}

const clock = { now: T0 };
afterEach(() => {
  clock.now = T0;
});

function sessionsWith(instrumentation: ReturnType<typeof openTelemetry>, store: SessionStore = memoryStore()) {
  return createSessions({
    store,
    secrets: [SECRET],
    clock: () => clock.now,
    idleTimeout: "1h",
    instrumentation,
  });
}

/** Every attribute value of every span and metric point, as strings. */
async function allAttributeValues(t: ReturnType<typeof telemetry>): Promise<string[]> {
  const values: string[] = [];
  for (const span of t.spans.getFinishedSpans()) {
    values.push(span.name, ...Object.values(span.attributes).map(String));
    for (const event of span.events) values.push(event.name, ...Object.values(event.attributes ?? {}).map(String));
  }
  for (const metric of await t.points()) {
    for (const point of metric.dataPoints) values.push(...Object.values(point.attributes).map(String));
  }
  return values;
}

describe("sessionkit/otel", () => {
  it("traces load, commit and each store call with store, operation and outcome", async () => {
    const t = telemetry();
    const sessions = sessionsWith(t.instrumentation);
    const session = await sessions.load(requestWith(null));
    session.set("cart", ["a"]);
    const cookie = cookieOf(await sessions.commit(session));
    await sessions.load(requestWith(cookie));

    const spans = t.spans.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes }));
    expect(spans).toEqual([
      {
        name: "sessionkit.load",
        attributes: { "sessionkit.store": "memory", "sessionkit.operation": "load", "sessionkit.outcome": "ok" },
      },
      {
        name: "sessionkit.store.create",
        attributes: { "sessionkit.store": "memory", "sessionkit.operation": "create", "sessionkit.outcome": "ok" },
      },
      {
        name: "sessionkit.commit",
        attributes: { "sessionkit.store": "memory", "sessionkit.operation": "commit", "sessionkit.outcome": "ok" },
      },
      {
        name: "sessionkit.store.get",
        attributes: { "sessionkit.store": "memory", "sessionkit.operation": "get", "sessionkit.outcome": "ok" },
      },
      {
        name: "sessionkit.load",
        attributes: { "sessionkit.store": "memory", "sessionkit.operation": "load", "sessionkit.outcome": "ok" },
      },
    ]);

    const histogram = (await t.points()).find((m) => m.descriptor.name === "sessionkit.store.duration");
    expect(histogram?.descriptor.unit).toBe("ms");
    const byOperation = Object.fromEntries(
      ((histogram?.dataPoints ?? []) as DataPoint<Histogram>[]).map((p) => [p.attributes["sessionkit.operation"], p.value.count]),
    );
    expect(byOperation).toEqual({ create: 1, get: 1 });
    await t.shutdown();
  });

  it("marks a failing store call and its load as errors, without the error's message", async () => {
    const t = telemetry();
    const inner = memoryStore();
    const failing: SessionStore = Object.assign(Object.create(inner) as SessionStore, {
      get: () => Promise.reject(new Error("connection to db.internal refused for id abc")),
    });
    const sessions = sessionsWith(t.instrumentation, inner);
    const session = await sessions.load(requestWith(null));
    session.set("n", 1);
    const cookie = cookieOf(await sessions.commit(session));

    const broken = sessionsWith(t.instrumentation, failing);
    t.spans.reset();
    await expect(broken.load(requestWith(cookie))).rejects.toBeInstanceOf(SessionStoreError);

    const [get, load] = t.spans.getFinishedSpans();
    expect(get?.name).toBe("sessionkit.store.get");
    expect(get?.attributes).toMatchObject({ "sessionkit.outcome": "error", "error.type": "SessionStoreError:SESSION_STORE" });
    expect(get?.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(get?.status.message).toBeUndefined();
    expect(get?.events).toEqual([]); // no recorded exception: its message could quote ids
    expect(load?.name).toBe("sessionkit.load");
    expect(load?.attributes["sessionkit.outcome"]).toBe("error");
    const histogram = (await t.points()).find((m) => m.descriptor.name === "sessionkit.store.duration");
    const failed = ((histogram?.dataPoints ?? []) as DataPoint<Histogram>[]).find(
      (p) => p.attributes["sessionkit.outcome"] === "error",
    );
    expect(failed?.attributes).toEqual({
      "sessionkit.store": "memory",
      "sessionkit.operation": "get",
      "sessionkit.outcome": "error",
    });
    await t.shutdown();
  });

  it("counts created, rotated, destroyed, revoked, expired, interrupted and invalid tokens by reason", async () => {
    const t = telemetry();
    const sessions = sessionsWith(t.instrumentation);
    const fresh = async (userId?: string) => {
      const session = await sessions.load(requestWith(null));
      session.set("n", 1);
      if (userId) await session.login(userId);
      return { session, cookie: cookieOf(await sessions.commit(session)) };
    };

    const a = await fresh("user-1");
    const b = await fresh();
    const c = await fresh();
    const d = await fresh();
    expect(await t.count("sessionkit.sessions.created")).toBe(4);

    const loadedA = await sessions.load(requestWith(a.cookie));
    loadedA.rotate();
    await sessions.commit(loadedA);
    expect(await t.count("sessionkit.sessions.rotated", { reason: "rotate" })).toBe(1);

    const loadedB = await sessions.load(requestWith(b.cookie));
    loadedB.destroy();
    await sessions.commit(loadedB);
    expect(await t.count("sessionkit.sessions.destroyed")).toBe(1);

    // Revoked while a request of it is in flight: that request's commit is interrupted.
    const loadedC = await sessions.load(requestWith(c.cookie));
    await sessions.revoke(c.session.id as string);
    loadedC.set("n", 2);
    await sessions.commit(loadedC);
    expect(await t.count("sessionkit.sessions.revoked", { reason: "revoke" })).toBe(1);
    expect(await t.count("sessionkit.sessions.interrupted", { reason: "gone" })).toBe(1);

    await sessions.load(requestWith(`${c.cookie.split("=")[0]}=garbage`));
    await sessions.load(requestWith(c.cookie)); // revoked: unknown
    expect(await t.count("sessionkit.tokens.invalid", { reason: "unknown" })).toBe(1);
    expect(await t.count("sessionkit.tokens.invalid", { reason: "malformed" })).toBe(1);

    // The memory store does not return expired rows (an "unknown" token on load); prune counts them.
    clock.now += 2 * 60 * 60 * 1000;
    await sessions.load(requestWith(d.cookie));
    const pruned = await sessions.prune();
    expect(pruned).toBeGreaterThan(0);
    expect(await t.count("sessionkit.sessions.expired", { source: "prune" })).toBe(pruned);
    expect(await t.count("sessionkit.tokens.invalid", { reason: "unknown" })).toBe(2);
    await t.shutdown();
  });

  it("counts a forged cookie as an invalid token", async () => {
    const t = telemetry();
    const sessions = sessionsWith(t.instrumentation);
    const session = await sessions.load(requestWith(null));
    session.set("n", 1);
    const cookie = cookieOf(await sessions.commit(session));
    const [name, value] = cookie.split("=") as [string, string];
    // Flip the last character: the signature no longer matches.
    const forged = `${name}=${value.slice(0, -1)}${value.endsWith("A") ? "B" : "A"}`;
    await sessions.load(requestWith(forged));
    await sessions.load(requestWith(`${name}=not-a-token`));
    const total = await t.count("sessionkit.tokens.invalid");
    expect(total).toBe(2);
    const reasons = (await t.points())
      .find((m) => m.descriptor.name === "sessionkit.tokens.invalid")
      ?.dataPoints.map((p) => Object.keys(p.attributes));
    expect(reasons?.every((keys) => keys.length === 1 && keys[0] === "reason")).toBe(true);
    await t.shutdown();
  });

  it("counts commit conflicts and retries between two processes on one store", async () => {
    const t = telemetry();
    const store = memoryStore();
    const one = sessionsWith(t.instrumentation, store);
    const other = createSessions({ store, secrets: [SECRET], clock: () => clock.now });
    const session = await one.load(requestWith(null));
    session.set("a", 1);
    const cookie = cookieOf(await one.commit(session));

    const mine = await one.load(requestWith(cookie));
    const theirs = await other.load(requestWith(cookie));
    theirs.set("b", 2);
    await other.commit(theirs);
    mine.set("a", 3);
    await one.commit(mine); // loses the compare-and-set once, merges, writes

    expect(await t.count("sessionkit.commit.conflicts")).toBe(1);
    expect(await t.count("sessionkit.commit.conflicts", { retrying: true })).toBe(1);
    expect(await t.count("sessionkit.commit.retries")).toBe(1);
    const final = await one.load(requestWith(cookie));
    expect([final.get("a"), final.get("b")]).toEqual([3, 2]);
    await t.shutdown();
  });

  it("never puts a token, session id, user id or IP in an attribute", async () => {
    const t = telemetry();
    const sessions = sessionsWith(t.instrumentation);
    const session = await sessions.load(requestWith(null), { ip: "203.0.113.7" });
    session.set("n", 1);
    await session.login("user-secret-42");
    const cookie = cookieOf(await sessions.commit(session));
    const id = session.id as string;
    const loaded = await sessions.load(requestWith(cookie));
    loaded.rotate();
    const rotatedCookie = cookieOf(await sessions.commit(loaded));
    await sessions.load(requestWith(cookie)); // the stale token: invalid
    await sessions.list("user-secret-42");
    await sessions.revokeUser("user-secret-42");
    await sessions.load(requestWith(rotatedCookie));

    const values = await allAttributeValues(t);
    expect(values.length).toBeGreaterThan(20);
    const tokens = [cookie, rotatedCookie].map((c) => c.split("=")[1] as string);
    for (const value of values) {
      for (const forbidden of [id, "user-secret-42", "203.0.113.7", ...tokens]) {
        expect(value.includes(forbidden), `${value} contains ${forbidden}`).toBe(false);
      }
      // No long opaque strings at all (an id hash, a secret, a part of a token).
      expect(value, value).toMatch(/^[a-z0-9.:_ -]{1,60}$/i);
    }
    await t.shutdown();
  });

  it("a throwing hook never breaks a request", async () => {
    const sessions = sessionsWith({
      event() {
        throw new Error("exporter down");
      },
      conflict() {
        throw new Error("exporter down");
      },
    });
    const session = await sessions.load(requestWith(null));
    session.set("n", 1);
    const original = console.error;
    console.error = () => {};
    try {
      expect(cookieOf(await sessions.commit(session))).toMatch(/=/);
    } finally {
      console.error = original;
    }
  });

  it("the core never imports @opentelemetry", () => {
    const root = join(import.meta.dirname, "..", "..", "src");
    const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const importing = files.filter((f) => readFileSync(join(root, f), "utf8").includes("@opentelemetry"));
    expect(importing).toEqual([join("adapters", "otel.ts")]);
  });
});
