// Turns the samples of a run into the console table and the Markdown report.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { ROOT } from "./dist.mjs";
import { PAYLOAD_BYTES } from "./fixtures.mjs";

export const SCENARIO_TITLES = {
  read: "read-only request (load a ~1 KB session, read two keys, change nothing)",
  write: "write request (load a ~1 KB session, change one key)",
  visit: "new visitor (no cookie, nothing stored, no cookie set)",
};

/**
 * @typedef {object} Side
 * @property {string} label
 * @property {number} median  operations (engine) or requests (HTTP) per second
 * @property {number} spread  (max - min) / median over the rounds
 * @property {number} rounds
 * @property {number | null} p99  HTTP p99 latency in ms (median over rounds)
 */

/**
 * @typedef {object} Row
 * @property {string} backend
 * @property {"engine" | "express" | "fastify"} level
 * @property {string} scenario
 * @property {Side} sessionkit
 * @property {Side | null} peer
 */

/** sessionkit's median over the peer's, or null without a peer. */
export const ratioOf = (row) => (row.peer ? row.sessionkit.median / row.peer.median : null);

const fmtRate = (n) => Math.round(n).toLocaleString("en-US");
const fmtRatio = (r) => (r === null ? "n/a" : `${r.toFixed(2)}x`);
const fmtSpread = (s) => `±${Math.round((s * 100) / 2)}%`;
const fmtSide = (side) => (side ? `${fmtRate(side.median)} (${fmtSpread(side.spread)})` : "no peer");
const fmtP99 = (side) => (side?.p99 == null ? "" : `${side.p99} ms`);

/** Facts about the machine and the code measured, for the report header. */
export function machineInfo() {
  const cpus = os.cpus();
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    // not a git checkout: leave "unknown"
  }
  return {
    cpu: `${cpus.length} x ${cpus[0]?.model ?? "unknown CPU"}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    commit,
    loadavg: os
      .loadavg()
      .map((n) => n.toFixed(2))
      .join(" "),
  };
}

const engineOnly = (rows) => rows.filter((r) => r.level === "engine");
const httpOnly = (rows) => rows.filter((r) => r.level !== "engine");

const sideOf = (row, key) => row.sides?.find((s) => s.key === key) ?? null;
const frac = (a, b) => (a && b ? a.median / b.median : null);
const fmtFrac = (r) => (r === null ? "" : r.toFixed(2));
const fmtOps = (side) =>
  side?.ops ? `${side.ops.reads.toFixed(2)} / ${side.ops.writes.toFixed(2)} / ${side.ops.touches.toFixed(2)}` : "";
const fmtUs = (n) => (n === null || n === undefined ? "" : `${Math.round(n)}`);

/** Per configuration of an HTTP row: fractions of the bare app and of the floor, ratio to the peer, ops, CPU. */
export function httpCells(row) {
  const bare = sideOf(row, "bare");
  const floor = sideOf(row, "floor");
  const peer = sideOf(row, "peer");
  // Express only: the same baselines with req/res in dictionary mode, as sessionkit's adapter
  // switches them (what is left is the session layer's own cost).
  const bareDict = sideOf(row, "bare-dict");
  const floorDict = sideOf(row, "floor-dict");
  const peerDict = sideOf(row, "peer-dict");
  return row.sides.map((side) => {
    const session = ["sessionkit", "cache", "peer", "peer-dict"].includes(side.key);
    return {
      side,
      ofBare: side.key === "bare" ? 1 : frac(side, bare),
      ofFloor: session ? frac(side, floor) : null,
      ofBareDict: session ? frac(side, bareDict) : null,
      ofFloorDict: session ? frac(side, floorDict) : null,
      vsPeer: ["sessionkit", "cache"].includes(side.key) ? frac(side, peer) : null,
      vsPeerDict: ["sessionkit", "cache"].includes(side.key) ? frac(side, peerDict) : null,
      layerUs: side.key === "bare" || !bare ? null : side.cpuUs - bare.cpuUs,
      layerDictUs: ["sessionkit", "cache", "peer-dict"].includes(side.key) && bareDict ? side.cpuUs - bareDict.cpuUs : null,
    };
  });
}

/** The plain-text tables printed at the end of a run. */
export function consoleTable(rows) {
  const table = (header, lines) => {
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
    return [line(header), line(widths.map((w) => "-".repeat(w))), ...lines.map(line)].join("\n");
  };
  const out = [];
  const engine = engineOnly(rows);
  if (engine.length > 0) {
    out.push(
      table(
        ["level", "backend", "scenario", "sessionkit /s", "peer /s", "ratio", "peer"],
        engine.map((row) => [
          row.level,
          row.backend,
          row.scenario,
          fmtSide(row.sessionkit),
          fmtSide(row.peer),
          fmtRatio(ratioOf(row)),
          row.peer?.label ?? "-",
        ]),
      ),
    );
  }
  const http = httpOnly(rows);
  if (http.length > 0) {
    const lines = [];
    for (const row of http) {
      for (const cell of httpCells(row)) {
        lines.push([
          row.level,
          row.backend,
          row.scenario,
          cell.side.key,
          fmtSide(cell.side),
          fmtFrac(cell.ofBare),
          fmtFrac(cell.ofFloor),
          fmtFrac(cell.ofBareDict),
          fmtFrac(cell.ofFloorDict),
          cell.vsPeer === null ? "" : fmtRatio(cell.vsPeer),
          cell.vsPeerDict === null ? "" : fmtRatio(cell.vsPeerDict),
          fmtOps(cell.side),
          fmtUs(cell.side.cpuUs),
          fmtUs(cell.layerUs),
        ]);
      }
    }
    out.push(
      table(
        [
          "http",
          "backend",
          "scenario",
          "config",
          "req/s",
          "of bare",
          "of floor",
          "of bare-d",
          "of floor-d",
          "vs peer",
          "vs peer-d",
          "reads/writes/touches",
          "cpu µs",
          "layer µs",
        ],
        lines,
      ),
    );
  }
  return out.join("\n\n");
}

/** Checks the issue's targets against one run; each { target, value, met }. */
export function targetsOf(rows) {
  const http = httpOnly(rows);
  const row = (framework, backend, scenario) =>
    http.find((r) => r.level === framework && r.backend === backend && r.scenario === scenario);
  const out = [];
  const add = (target, value, threshold, shown = (v) => v.toFixed(2)) => {
    if (value === null || value === undefined || Number.isNaN(value)) {
      out.push({ target, value: "not run", met: null });
      return;
    }
    out.push({ target, value: shown(value), met: value >= threshold });
  };
  const cellOf = (r, key) => (r ? httpCells(r).find((c) => c.side.key === key) : undefined);
  const times = (v) => `${v.toFixed(2)}x`;
  // An Express target, on the baseline as users run it and then on the same baseline with
  // req/res in dictionary mode (what sessionkit's adapter switches): `measure` names the
  // plain cell field, its dictionary-mode twin is the same name + "Dict".
  const addExpress = (target, dictTarget, cell, measure, threshold, shown) => {
    add(target, cell?.[measure], threshold, shown);
    add(dictTarget, cell?.[`${measure}Dict`], threshold, shown);
  };
  // The memory and SQLite read targets name no cache setting: both are reported, each on its own line.
  for (const [key, label] of [
    ["sessionkit", "no cache"],
    ["cache", "near-cache"],
  ]) {
    const target = `read, memory, Express, ${label}: >= 0.85 of Express alone`;
    addExpress(
      target,
      `${target} with req/res in dictionary mode (the session layer's own cost)`,
      cellOf(row("express", "memory", "read"), key),
      "ofBare",
      0.85,
    );
    add(`read, memory, Fastify, ${label}: >= 0.6 of Fastify alone`, cellOf(row("fastify", "memory", "read"), key)?.ofBare, 0.6);
    const sqlite = `read, SQLite, Express, ${label}: >= 2x better-sqlite3-session-store (WAL)`;
    addExpress(
      sqlite,
      `${sqlite}, both with req/res in dictionary mode`,
      cellOf(row("express", "sqlite", "read"), key),
      "vsPeer",
      2,
      times,
    );
  }
  for (const backend of ["postgres", "redis"]) {
    for (const [key, label, threshold] of [
      ["sessionkit", "no cache", 0.9],
      ["cache", "near-cache", 1.2],
    ]) {
      const target = `read, ${backend}, Express, ${label}: >= ${threshold} of its floor`;
      addExpress(target, `${target} in dictionary mode`, cellOf(row("express", backend, "read"), key), "ofFloor", threshold);
    }
  }
  for (const backend of ["memory", "sqlite", "redis", "postgres"]) {
    const target = `write, ${backend}, Express: >= 1.3x the peer`;
    addExpress(
      target,
      `${target}, both with req/res in dictionary mode`,
      cellOf(row("express", backend, "write"), "sessionkit"),
      "vsPeer",
      1.3,
      times,
    );
  }
  const reads = http.filter((r) => r.scenario === "read");
  if (reads.length > 0) {
    let writes = 0;
    for (const r of reads) for (const s of r.sides) if (s.key === "sessionkit" || s.key === "cache") writes += s.totalWrites;
    const longest = Math.max(...reads.map((r) => r.elapsedMs));
    out.push({
      target: "0 store writes (and touches) by sessionkit in every read-only run shorter than touchInterval (1 min)",
      value: `${writes} in ${reads.length} run(s), longest ${Math.round(longest / 1000)} s`,
      met: writes === 0 && longest < 60_000,
    });
  }
  return out;
}

function markdownRows(rows, level) {
  const picked = rows.filter((r) => r.level === level);
  if (picked.length === 0) return ["(not run)"];
  const unit = level === "engine" ? "ops/s" : "req/s";
  const p99 = level !== "engine";
  const head = p99
    ? `| backend | scenario | sessionkit ${unit} | peer ${unit} | **ratio** | p99 sessionkit / peer | peer |`
    : `| backend | scenario | sessionkit ${unit} | peer ${unit} | **ratio** | peer |`;
  const sep = p99 ? "| --- | --- | ---: | ---: | ---: | ---: | --- |" : "| --- | --- | ---: | ---: | ---: | --- |";
  return [
    head,
    sep,
    ...picked.map((row) => {
      const cells = [row.backend, row.scenario, fmtSide(row.sessionkit), fmtSide(row.peer), `**${fmtRatio(ratioOf(row))}**`];
      if (p99) cells.push(row.peer ? `${fmtP99(row.sessionkit)} / ${fmtP99(row.peer)}` : fmtP99(row.sessionkit));
      cells.push(row.peer?.label ?? "none installed");
      return `| ${cells.join(" | ")} |`;
    }),
  ];
}

const FRAMEWORK_TITLES = { express: "Express 5", fastify: "Fastify 5", hono: "Hono 4 (@hono/node-server)", koa: "Koa 3" };

function httpSections(rows, options) {
  const out = [];
  for (const framework of options.frameworks) {
    const picked = httpOnly(rows).filter((r) => r.level === framework);
    out.push(`## HTTP level: ${FRAMEWORK_TITLES[framework] ?? framework}`, "");
    if (picked.length === 0) {
      out.push("(not run)", "");
      continue;
    }
    out.push(
      ...(framework === "express"
        ? [
            "| backend | scenario | configuration | req/s | of the bare app | of the floor | of the bare app, dictionary mode | of the floor, dictionary mode | vs peer | vs peer in dictionary mode | reads / writes / touches per request | p99 | server CPU µs/request | session layer µs | above the dictionary-mode bare app µs |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
          ]
        : [
            "| backend | scenario | configuration | req/s | of the bare app | of the floor | vs peer | reads / writes / touches per request | p99 | server CPU µs/request | session layer µs |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
          ]),
    );
    for (const row of picked) {
      for (const cell of httpCells(row)) {
        const dict = framework === "express" ? ` ${fmtFrac(cell.ofBareDict)} | ${fmtFrac(cell.ofFloorDict)} |` : "";
        const peerDict =
          framework === "express" ? ` ${cell.vsPeerDict === null ? "" : `**${fmtRatio(cell.vsPeerDict)}**`} |` : "";
        const dictUs = framework === "express" ? ` ${fmtUs(cell.layerDictUs)} |` : "";
        out.push(
          `| ${row.backend} | ${row.scenario} | ${cell.side.label} | ${fmtSide(cell.side)} | ${fmtFrac(cell.ofBare)} | ${fmtFrac(cell.ofFloor)} |${dict} ${cell.vsPeer === null ? "" : `**${fmtRatio(cell.vsPeer)}**`} |${peerDict} ${fmtOps(cell.side)} | ${fmtP99(cell.side)} | ${fmtUs(cell.side.cpuUs)} | ${fmtUs(cell.layerUs)} |${dictUs}`,
        );
      }
    }
    out.push("");
  }
  const targets = targetsOf(rows);
  if (targets.length > 0) {
    out.push("## Targets (issue 12)", "", "| target | this run | met |", "| --- | ---: | --- |");
    for (const t of targets) out.push(`| ${t.target} | ${t.value} | ${t.met === null ? "not run" : t.met ? "yes" : "**no**"} |`);
    out.push("");
  }
  return out;
}

/** The Markdown report (bench/results/latest.md). */
export function markdownReport({ rows, skipped, notes, options, machine, startedAt, finishedAt, distBuilt, command }) {
  const settings = [
    `- engine level: one request at a time, ${options.engineRounds} alternating rounds of ${options.engineMs} ms per side (after ${options.engineWarmupMs} ms warm-up); median shown, ± is half the spread between rounds`,
    `- HTTP level (${options.frameworks.join(", ")}): autocannon in a process of its own, ${options.connections} connections, ${options.httpRounds} alternating run(s) of ${options.seconds} s per configuration${options.warmupSeconds ? ` (after a ${options.warmupSeconds} s warm-up run)` : ""}; each server in its own process; the bare app, the floor, sessionkit (with and without the near-cache) and the peer alternate in one group per backend and framework`,
    `- ${options.poolSize} sessions seeded per configuration before each scenario (engine level: once), each holding ${PAYLOAD_BYTES} bytes of JSON; requests cycle through them`,
    "- HTTP columns: req/s (± half the spread of the rounds); of the bare app = req/s ÷ the same framework with no session layer; of the floor = req/s ÷ the same app doing one read by key (write: + one write) on the store; Express also has both in dictionary mode (req and res switched on the way in, as sessionkit's Express adapter does; see docs/benchmarks.md), so the gain of the switch and the session layer's own cost read apart; vs peer = sessionkit ÷ the peer; store operations per request counted in the server; server CPU = user + system time of the server process per request; session layer = that minus the bare app's",
    ...(options.profile ? ["- run with --profile: every server ran under --cpu-prof (figures include its overhead)"] : []),
  ];
  return [
    "# sessionkit benchmark results",
    "",
    `Generated by \`${command}\`. Ratio = sessionkit / peer, measured in the same run (higher is better for sessionkit).`,
    "See [docs/benchmarks.md](../../docs/benchmarks.md) for what each scenario measures and the caveats.",
    "",
    `- started ${startedAt.toISOString()}, finished ${finishedAt.toISOString()}`,
    `- machine: ${machine.cpu}, ${machine.memory} RAM, ${machine.platform}; load average at start ${machine.loadavg}`,
    `- Node.js ${machine.node}; sessionkit at commit ${machine.commit}, measured from \`dist/\` built ${distBuilt ? distBuilt.toISOString() : "(unknown)"}`,
    ...settings,
    "",
    "## Engine level (no HTTP)",
    "",
    ...markdownRows(rows, "engine"),
    "",
    ...httpSections(rows, options),
    "",
    ...(options.chart ? [`![Requests per second as a fraction of the framework alone](${options.chart})`, ""] : []),
    "Scenarios:",
    "",
    ...Object.entries(SCENARIO_TITLES).map(([name, title]) => `- \`${name}\`: ${title}`),
    ...(skipped.length > 0 ? ["", "Skipped:", "", ...skipped.map((s) => `- ${s}`)] : []),
    ...(notes.length > 0 ? ["", "Notes:", "", ...notes.map((n) => `- ${n}`)] : []),
    "",
  ].join("\n");
}
