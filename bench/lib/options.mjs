// Command-line options of bench/run.mjs.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BACKENDS } from "./backends.mjs";
import { ROOT } from "./dist.mjs";

export const SCENARIOS = ["read", "write", "visit"];
export const FRAMEWORKS = ["express", "fastify", "hono", "koa"];

export const USAGE = `Usage: node bench/run.mjs [options]   (npm run bench -- [options] builds first)

  --quick               short runs (about a minute in all): checks the harness, ratios are rough
  --only <list>         backends, comma-separated: ${BACKENDS.map((b) => b.name).join(",")} (default: all)
  --scenarios <list>    read,write,visit (default: all)
  --no-engine           skip the engine-level runs
  --no-http             skip the HTTP-level runs (autocannon)
  --frameworks <list>   HTTP level on express,fastify,hono,koa (default: all four)
  --rounds <n>          alternating engine-level rounds per side (default 8, --quick 2)
  --http-rounds <n>     alternating load runs per configuration (default 3, --quick 1)
  --seconds <n>         seconds per load run (default 2, --quick 1)
  --connections <n>     connections of the load generator (default 50)
  --sessions <n>        distinct sessions the requests cycle through (default 50)
  --profile             write a .cpuprofile per HTTP configuration (bench/results/profiles/<run>/)
  --out <file>          where the Markdown report goes (default bench/results/latest.md)
  --no-write            print the table only
  --help`;

const positive = (value, name) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`[bench] --${name} must be a positive number, got ${value}`);
  return n;
};

const list = (value, allowed, name) => {
  const picked = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of picked) {
    if (!allowed.includes(item)) throw new Error(`[bench] --${name}: unknown "${item}"; pick from ${allowed.join(", ")}`);
  }
  return picked;
};

/** Parses argv into the settings of one run. */
export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      scenarios: { type: "string" },
      frameworks: { type: "string" },
      "no-engine": { type: "boolean", default: false },
      "no-http": { type: "boolean", default: false },
      rounds: { type: "string" },
      "http-rounds": { type: "string" },
      seconds: { type: "string" },
      connections: { type: "string" },
      sessions: { type: "string" },
      profile: { type: "boolean", default: false },
      out: { type: "string" },
      "no-write": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  const quick = values.quick;
  const rounds = values.rounds ? positive(values.rounds, "rounds") : quick ? 2 : 8;
  return {
    help: values.help,
    quick,
    backends: values.only
      ? list(
          values.only,
          BACKENDS.map((b) => b.name),
          "only",
        )
      : BACKENDS.map((b) => b.name),
    scenarios: values.scenarios ? list(values.scenarios, SCENARIOS, "scenarios") : SCENARIOS,
    engine: !values["no-engine"],
    frameworks: values.frameworks ? list(values.frameworks, FRAMEWORKS, "frameworks") : FRAMEWORKS,
    http: !values["no-http"],
    // Engine level: one request at a time, `engineRounds` alternating rounds of `engineMs` each.
    engineRounds: rounds,
    engineMs: quick ? 200 : 500,
    engineWarmupMs: quick ? 100 : 500,
    // HTTP level: `httpRounds` alternating autocannon runs of `seconds` each, after a warm-up run.
    httpRounds: values["http-rounds"] ? positive(values["http-rounds"], "http-rounds") : quick ? 1 : 3,
    seconds: values.seconds ? positive(values.seconds, "seconds") : quick ? 1 : 2,
    warmupSeconds: quick ? 0 : 1,
    connections: values.connections ? positive(values.connections, "connections") : 50,
    // Sessions seeded per side (before each scenario at HTTP level); requests cycle through them.
    poolSize: values.sessions ? positive(values.sessions, "sessions") : 50,
    profile: values.profile,
    out: values["no-write"] ? null : (values.out ?? join(ROOT, "bench", "results", "latest.md")),
    argv,
  };
}
