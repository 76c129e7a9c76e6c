#!/usr/bin/env node
// Side-by-side benchmarks: each sessionkit backend against its closest express-session store,
// in the same run, reported as ratios. See docs/benchmarks.md.
//
//   npm run bench                       # build, then the full run (under ~10 minutes on 2 cores)
//   npm run bench -- --quick            # about a minute: checks the harness, rough ratios
//   node bench/run.mjs --only sqlite,redis --no-http
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, relative } from "node:path";
import { BACKENDS, unavailableReason } from "./lib/backends.mjs";
import { DIST, distBuiltAt, ROOT } from "./lib/dist.mjs";
import { expressSessionEngine, sessionkitEngine } from "./lib/engine.mjs";
import { counterOverHttp, loadTest, seedOverHttp, startServer } from "./lib/http.mjs";
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

/** The peer of `backend` on `framework`: express-session's store, or @fastify/session on it. */
function peerLabel(backend, framework) {
  if (framework === "express") return backend.peer;
  return backend.name === "memory" ? "@fastify/session (its MemoryStore)" : `@fastify/session + ${backend.peer}`;
}

/** HTTP-level rows for one backend on one framework. */
async function httpRows(backend, options, framework) {
  const sides = [{ label: `sessionkit/${backend.name}`, server: await startServer("sessionkit", backend.name, framework) }];
  try {
    if (backend.openPeer) {
      sides.push({ label: peerLabel(backend, framework), server: await startServer("peer", backend.name, framework) });
    }
    for (const side of sides) side.cookies = await seedOverHttp(side.server.port, options.poolSize);
    const load = { seconds: options.seconds, connections: options.connections };
    const rows = [];
    for (const scenario of options.scenarios) {
      const cookiesOf = (side) => (scenario === "visit" ? [] : side.cookies);
      if (options.warmupSeconds > 0) {
        for (const side of sides) {
          await loadTest(side.server.port, `/${scenario}`, cookiesOf(side), { ...load, seconds: options.warmupSeconds });
        }
      }
      const runs = await alternate(sides, options.httpRounds, async (side) => {
        const result = await loadTest(side.server.port, `/${scenario}`, cookiesOf(side), load);
        if (result.failures > 0) throw new Error(`[bench] ${side.label} ${scenario}: ${result.failures} failed requests`);
        return result;
      });
      if (scenario === "write") {
        for (const side of sides) {
          if (!((await counterOverHttp(side.server.port, side.cookies[0])) > 0)) {
            throw new Error(`[bench] ${side.label}: HTTP writes did not store their changes`);
          }
        }
      }
      const sideOf = (index) =>
        toSide(
          sides[index].label,
          runs[index].map((r) => r.rps),
          runs[index].map((r) => r.p99),
        );
      rows.push({ backend: backend.name, level: framework, scenario, sessionkit: sideOf(0), peer: sides[1] ? sideOf(1) : null });
      log(
        `${framework} ${backend.name} ${scenario}: ${sides.map((s, i) => `${s.label} ${Math.round(median(runs[i].map((r) => r.rps)))} req/s`).join(", ")}`,
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
    log(`${name}: sessionkit/${name} vs ${backend.peer ?? "(no peer)"}`);
    if (options.engine) rows.push(...(await engineRows(backend, options)));
    if (options.http) for (const framework of options.frameworks) rows.push(...(await httpRows(backend, options, framework)));
  }
  const finishedAt = new Date();
  if (rows.length === 0) throw new Error(`[bench] nothing ran: ${skipped.join("; ") || "no backend or level selected"}`);

  console.log(consoleTable(rows));
  const peerNotes = BACKENDS.filter((b) => options.backends.includes(b.name) && b.openPeer).map(
    (b) => `${b.name}: ${b.peerNote}`,
  );
  if (options.out) {
    const command = `node bench/run.mjs${options.argv.length ? ` ${options.argv.join(" ")}` : ""}`;
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
