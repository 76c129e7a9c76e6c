/** Every store URL form docs/cli.md lists, read in-process (no server, no build). */
import { describe, expect, it } from "vitest";
import { driverFor, parseSqliteUrl, STORE_DRIVERS, UsageError } from "../../src/cli/open-store.js";
import { parseRedisUrl } from "../../src/cli/redis-url.js";

describe("store URLs", () => {
  it("knows exactly the schemes docs/cli.md lists", () => {
    expect(Object.keys(STORE_DRIVERS).sort()).toEqual([
      "mysql",
      "postgres",
      "postgresql",
      "redis",
      "redis-cluster",
      "rediss",
      "sqlite",
    ]);
    for (const url of ["SQLITE:./x.sqlite", "Postgres://h/db", "mysql://h/db", "rediss://h:6380"])
      expect(driverFor(url)).toBeDefined();
  });

  it.each([
    ["sqlite:./sessions.sqlite", "./sessions.sqlite", undefined],
    ["sqlite:/srv/app/s.sqlite?table=app_sessions", "/srv/app/s.sqlite", "app_sessions"],
    ["sqlite:///srv/app/s.sqlite", "/srv/app/s.sqlite", undefined],
    ["sqlite://./rel.sqlite", "./rel.sqlite", undefined],
    ["sqlite::memory:", ":memory:", undefined],
  ])("sqlite: %s", (url, path, table) => {
    expect(parseSqliteUrl(url)).toEqual({ path, table });
  });

  it("sqlite: an unknown parameter or no path is a usage error", () => {
    expect(() => parseSqliteUrl("sqlite:./x?tabel=a")).toThrow(UsageError);
    expect(() => parseSqliteUrl("sqlite:")).toThrow(/has no path/);
  });

  it("redis, rediss and redis-cluster, with user, password, db and prefix", () => {
    expect(parseRedisUrl("redis://127.0.0.1:6379")).toMatchObject({
      cluster: false,
      prefix: undefined,
      where: "redis://127.0.0.1:6379 (prefix sessionkit)",
    });
    expect(parseRedisUrl("redis://app:s3cret@cache:6380/2?prefix=app")).toMatchObject({
      username: "app",
      password: "s3cret",
      prefix: "app",
      url: "redis://app:s3cret@cache:6380/2",
      where: "redis://cache:6380/2 (prefix app)",
    });
    expect(parseRedisUrl("rediss://:pw@redis.example.com:6380").where).toBe(
      "rediss://redis.example.com:6380 (prefix sessionkit)",
    );
    expect(parseRedisUrl("redis-cluster://:pw@10.0.0.1:7000,10.0.0.2,[::1]:7002?prefix=p")).toMatchObject({
      cluster: true,
      password: "pw",
      prefix: "p",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 6379 },
        { host: "::1", port: 7002 },
      ],
    });
    expect(() => parseRedisUrl("redis://h?table=x")).toThrow(UsageError);
    expect(() => parseRedisUrl("redis-cluster://")).toThrow(/names no node/);
  });

  it("postgres and mysql: ?table= (and ?schema= for postgres) are sessionkit's; the rest goes to the driver", async () => {
    const pg = await STORE_DRIVERS.postgres?.schemaSql(
      "postgres://u:pw@db:5432/app?table=app_sessions&schema=auth&sslmode=require",
    );
    expect(pg).toContain('"auth"."app_sessions"');
    const my = await STORE_DRIVERS.mysql?.schemaSql("mysql://u:pw@db:3306/app?table=app_sessions");
    expect(my).toContain("`app_sessions`");
    await expect(STORE_DRIVERS.postgres?.schemaSql("postgres://db/app?table=bad-name")).rejects.toThrow(UsageError);
  });
});
