#!/usr/bin/env node
// Side-by-side benchmarks: each sessionkit backend against its closest express-session store,
// in the same run, reported as ratios. See docs/benchmarks.md.
//
//   npm run bench                       # build, then the full run (about 40 minutes on 2 cores)
//   npm run bench -- --quick            # about a minute: checks the harness, rough ratios
//   node bench/run.mjs --only sqlite,redis --no-http
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative } from "node:path";
import { BACKENDS, unavailableReason } from "./lib/backends.mjs";
import { chartSvg } from "./lib/chart.mjs";
import { DIST, distBuiltAt, ROOT } from "./lib/dist.mjs";
import { expressSessionEngine, sessionkitEngine } from "./lib/engine.mjs";
import { FLOOR_NOTES as floorNotes } from "./lib/floors.mjs";
import { counterOverHttp, seedOverHttp, startLoadWorker, startServer } from "./lib/http.mjs";
import { alternate, median, opsPerSecond, spread } from "./lib/measure.mjs";
import { parseOptions, USAGE } from "./lib/options.mjs";
import { consoleTable, machineInfo, markdownReport } from "./lib/report.mjs";

const require = createRequire(import.meta.url);
const log = (message) => process.stderr.write(`[bench] ${message}\n`);

const toSide = (label, samples, p99s = null) => ({
  label,
  median: median(samples),
  spread: spread(samples),
  rounds: samples.length,
  p99: p99s ? median(p99s) : null,
});

/** Engine-level rows for one backend. */
async function engineRows(backend, options) {
  const session = require("express-session");
  const opened = [await backend.sessionkit()];
  const sides = [{ label: `sessionkit/${backend.name}`, engine: await sessionkitEngine(opened[0].store) }];
  if (backend.openPeer) {
    opened.push(await backend.openPeer(session));
    sides.push({ label: backend.peer, engine: await expressSessionEngine(opened[1].store) });
  }
  try {
    for (const side of sides) side.cookies = await side.engine.seed(options.poolSize);
    const rows = [];
    for (const scenario of options.scenarios) {
      const operation = (side) =>
        scenario === "visit" ? () => side.engine.visit() : (i) => side.engine[scenario](side.cookies[i % side.cookies.length]);
      for (const side of sides) {
        side.counter = { next: 0 };
        await opsPerSecond(operation(side), options.engineWarmupMs, side.counter);
      }
      const samples = await alternate(sides, options.engineRounds, (side) =>
        opsPerSecond(operation(side), options.engineMs, side.counter),
      );
      if (scenario === "write") {
        for (const side of sides) {
          const counter = await side.engine.counterOf(side.cookies[0]);
          if (!(counter > 0)) throw new Error(`[bench] ${side.label}: the write scenario did not store its changes`);
        }
      }
      const row = {
        backend: backend.name,
        level: "engine",
        scenario,
        sessionkit: toSide(sides[0].label, samples[0]),
        peer: sides[1] ? toSide(sides[1].label, samples[1]) : null,
      };
      rows.push(row);
      log(
        `engine ${backend.name} ${scenario}: ${sides.map((s, i) => `${s.label} ${Math.round(median(samples[i]))}/s`).join(", ")}`,
      );
    }
    return rows;
  } finally {
    for (const side of sides) await side.engine.close().catch(() => {});
    for (const o of opened) await o.cleanup().catch((error) => log(`cleanup failed: ${error.message}`));
  }
}

/** The peer of `backend` on `framework`: express-session's store, or @fastify/session on it; null on Hono and Koa. */
function peerLabel(backend, framework) {
  if (framework === "express") return backend.openPeer ? backend.peer : null;
  if (framework === "fastify") {
    if (backend.name === "memory") return "@fastify/session (its MemoryStore)";
    return backend.openPeer ? `@fastify/session + ${backend.peer}` : null;
  }
  return null;
}

/** Backends whose store has an invalidation channel: they also run with the near-cache on. */
const CACHED = new Set(["memory", "sqlite", "redis", "postgres", "mysql"]);

/** The configurations measured side by side for one backend on one framework. */
function configurationsOf(backend, framework) {
  const peer = peerLabel(backend, framework);
  return [
    { key: "bare", library: "bare", label: `${framework}, no session layer` },
    { key: "floor", library: "floor", label: `floor: one read by key on ${backend.name}` },
    // sessionkit's Express adapter switches req and res to dictionary mode, which speeds up
    // Express itself: these two show that gain alone, so the session layer's own cost stays visible.
    ...(framework === "express"
      ? [
          { key: "bare-dict", library: "bare-dict", label: "express, no session layer, req/res in dictionary mode" },
          { key: "floor-dict", library: "floor-dict", label: `floor on ${backend.name}, req/res in dictionary mode` },
        ]
      : []),
    { key: "sessionkit", library: "sessionkit", label: `sessionkit/${backend.name}` },
    ...(CACHED.has(backend.name)
      ? [{ key: "cache", library: "sessionkit-cache", label: `sessionkit/${backend.name} + near-cache` }]
      : []),
    ...(peer ? [{ key: "peer", library: "peer", label: peer }] : []),
    ...(peer && framework === "express"
      ? [{ key: "peer-dict", library: "peer-dict", label: `${peer}, req/res in dictionary mode` }]
      : []),
  ];
}

const perRequest = (before, after, total) => ({
  reads: (after.ops.reads - before.ops.reads) / total,
  writes: (after.ops.writes - before.ops.writes) / total,
  touches: (after.ops.touches - before.ops.touches) / total,
  cpuUs: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / total,
});

/** HTTP-level rows for one backend on one framework: every configuration, alternated. */
async function httpRows(backend, options, framework, loader, profileDir) {
  const sides = [];
  try {
    for (const config of configurationsOf(backend, framework)) {
      const label = `${framework}-${backend.name}-${config.library}`;
      sides.push({ ...config, server: await startServer(config.library, backend.name, framework, { profileDir, label }) });
    }
    const load = { seconds: options.seconds, connections: options.connections };
    const rows = [];
    for (const scenario of options.scenarios) {
      // The floor of a first visit is the bare app: nothing to read.
      const active = sides.filter((side) => !(scenario === "visit" && side.key.startsWith("floor")));
      const started = performance.now();
      // Fresh sessions per scenario, so a read-only run stays shorter than touchInterval.
      for (const side of active)
        side.cookies = scenario === "visit" ? [] : await seedOverHttp(side.server.port, options.poolSize);
      if (options.warmupSeconds > 0) {
        for (const side of active) {
          await loader.run(side.server.port, `/${scenario}`, side.cookies, { ...load, seconds: options.warmupSeconds });
        }
      }
      const runs = await alternate(active, options.httpRounds, async (side) => {
        const before = await side.server.stats();
        const result = await loader.run(side.server.port, `/${scenario}`, side.cookies, load);
        const after = await side.server.stats();
        if (result.failures > 0) throw new Error(`[bench] ${side.label} ${scenario}: ${result.failures} failed requests`);
        return { ...result, ...perRequest(before, after, Math.max(1, after.requests - before.requests)) };
      });
      const elapsedMs = performance.now() - started;
      if (scenario === "write") {
        for (const side of active) {
          if (!((await counterOverHttp(side.server.port, side.cookies[0])) > 0)) {
            throw new Error(`[bench] ${side.label}: HTTP writes did not store their changes`);
          }
        }
      }
      const measured = active.map((side, index) => {
        const samples = runs[index];
        const mid = (pick) => median(samples.map(pick));
        return {
          key: side.key,
          ...toSide(
            side.label,
            samples.map((r) => r.rps),
            samples.map((r) => r.p99),
          ),
          ops: { reads: mid((r) => r.reads), writes: mid((r) => r.writes), touches: mid((r) => r.touches) },
          // Sum over the rounds, so a single write anywhere in a read-only run shows.
          totalWrites: samples.reduce((n, r) => n + Math.round((r.writes + r.touches) * r.total), 0),
          cpuUs: mid((r) => r.cpuUs),
        };
      });
      const find = (key) => measured.find((m) => m.key === key) ?? null;
      rows.push({
        backend: backend.name,
        level: framework,
        scenario,
        elapsedMs,
        sides: measured,
        sessionkit: find("sessionkit"),
        peer: find("peer"),
      });
      log(
        `${framework} ${backend.name} ${scenario}: ${measured.map((m) => `${m.key} ${Math.round(m.median)} req/s`).join(", ")}`,
      );
    }
    return rows;
  } finally {
    for (const side of sides) await side.server.stop();
  }
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const startedAt = new Date();
  const machine = machineInfo();
  const rows = [];
  const skipped = [];
  const loader = options.http ? startLoadWorker() : null;
  const profileDir = options.profile
    ? join(ROOT, "bench", "results", "profiles", startedAt.toISOString().replace(/[:.]/g, "-"))
    : null;
  const notes = [];
  for (const name of options.backends) {
    const backend = BACKENDS.find((b) => b.name === name);
    const reason = await unavailableReason(backend, DIST);
    if (reason) {
      skipped.push(`${name}: ${reason}`);
      log(`SKIPPING ${name}: ${reason}`);
      continue;
    }
    if (!backend.openPeer) notes.push(`${name}: ${backend.peerNote}`);
    notes.push(`${name} floor: ${floorNotes[name]}`);
    log(`${name}: sessionkit/${name} vs ${backend.peer ?? "(no peer)"}`);
    if (options.engine) rows.push(...(await engineRows(backend, options)));
    if (options.http) {
      for (const framework of options.frameworks) rows.push(...(await httpRows(backend, options, framework, loader, profileDir)));
    }
  }
  loader?.stop();
  const finishedAt = new Date();
  if (rows.length === 0) throw new Error(`[bench] nothing ran: ${skipped.join("; ") || "no backend or level selected"}`);

  console.log(consoleTable(rows));
  const peerNotes = BACKENDS.filter((b) => options.backends.includes(b.name) && b.openPeer).map(
    (b) => `${b.name}: ${b.peerNote}`,
  );
  if (options.out) {
    const command = `node bench/run.mjs${options.argv.length ? ` ${options.argv.join(" ")}` : ""}`;
    const chartFile = `${options.out.replace(/\.md$/, "")}.svg`;
    options.chart = rows.some((r) => r.level !== "engine") ? basename(chartFile) : null;
    const report = markdownReport({
      rows,
      skipped,
      notes: [...peerNotes, ...notes],
      options,
      machine,
      startedAt,
      finishedAt,
      distBuilt: distBuiltAt(),
      command,
    });
    mkdirSync(dirname(options.out), { recursive: true });
    const svg = await chartSvg(rows, {
      title: `sessionkit ${machine.commit}, Node.js ${machine.node}, ${machine.cpu}, ${startedAt.toISOString().slice(0, 16)} UTC`,
    });
    if (svg) writeFileSync(chartFile, svg);
    writeFileSync(options.out, report);
    log(`report written to ${relative(ROOT, options.out) || options.out}`);
  }
  log(`done in ${Math.round((finishedAt - startedAt) / 1000)} s`);
}

main().then(
  // Some peers leave timers running (better-sqlite3-session-store's sweep interval).
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
