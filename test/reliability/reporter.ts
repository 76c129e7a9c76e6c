/**
 * A vitest reporter that writes docs/reliability.md from the figures the reliability tests
 * recorded in this run (see figures.ts), with the date, the machine, the commit and the test
 * outcomes. `npm run test:long` adds it; the file is never edited by hand.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Reporter, TestModule } from "vitest/node";
import { FIGURES_DIR, type Figure, LONG } from "./figures.js";

type Recorded = Figure & { long: boolean; at: string };

const git = (...args: string[]) => {
  try {
    return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
};

const cell = (v: unknown) => String(v).replace(/\|/g, "\\|").replace(/\n/g, " ");

function table(rows: Recorded[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r.values)))];
  const head = `| run | scale | recorded (UTC) | ${columns.map(cell).join(" | ")} |`;
  const rule = `| --- | --- | --- | ${columns.map(() => "---").join(" | ")} |`;
  const body = rows.map(
    (r) =>
      `| ${cell(r.name)} | ${r.long ? "full" : "quick"} | ${r.at.slice(0, 16).replace("T", " ")} | ${columns.map((c) => cell(r.values[c] ?? "")).join(" | ")} |`,
  );
  return [head, rule, ...body].join("\n");
}

const num = (v: unknown) => (typeof v === "number" ? v : Number(v) || 0);
const sum = (rows: Recorded[], key: string) => rows.reduce((n, r) => n + num(r.values[key]), 0);

const SECTIONS: Array<{ id: string; title: string; about: string }> = [
  {
    id: "fuzz",
    title: "Hostile input (fast-check)",
    about:
      "Generated and mutated cookies and headers (`test/reliability/fuzz-core.test.ts`, `fuzz-http.test.ts`) and mutated stored rows (`fuzz-rows.test.ts`).",
  },
  {
    id: "races",
    title: "Races through the HTTP adapters",
    about: "200 concurrent per-key writes of one session, per adapter and store (`test/reliability/races-http.test.ts`).",
  },
  {
    id: "outages",
    title: "Store outages under load",
    about: "The store cut or stopped mid-run, then back (`test/reliability/outage.test.ts`).",
  },
  {
    id: "failover",
    title: "Redis failover under load",
    about:
      "A replica promoted by Sentinel mid-run, on the client docs/redis.md recommends (`test/reliability/redis-failover.test.ts`): the master killed (SIGKILL; asynchronous replication may lose its last acknowledged writes, counted here), and a switchover (writes paused, replica caught up, `SENTINEL FAILOVER`: nothing may be lost). Seconds to recover count from the kill or the pause.",
  },
  {
    id: "multi-process",
    title: "Four app processes behind a round-robin proxy",
    about: "One shared store, four processes on four adapters (`test/multi-server/round-robin.test.ts`).",
  },
  {
    id: "soak",
    title: "Soak",
    about: "Mixed traffic with background pruning and expiring rows (`test/reliability/soak.test.ts`).",
  },
  {
    id: "prune",
    title: "Prune at scale",
    about: "Expired rows pruned while reads run (`test/reliability/prune-scale.test.ts`).",
  },
];

/**
 * SESSIONKIT_FIGURES_KEEP=1 keeps the figures of earlier runs (a full campaign run in pieces,
 * on a machine shared with other work); each figure keeps the time it was recorded.
 */
const KEEP = process.env.SESSIONKIT_FIGURES_KEEP === "1";

export default class ReliabilityReporter implements Reporter {
  private started = Date.now();

  onInit(): void {
    this.started = Date.now();
    if (!KEEP) rmSync(FIGURES_DIR, { recursive: true, force: true });
    mkdirSync(FIGURES_DIR, { recursive: true });
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const figures: Recorded[] = [];
    for (const file of readdirSync(FIGURES_DIR)) {
      if (!file.endsWith(".json")) continue;
      const f = JSON.parse(readFileSync(path.join(FIGURES_DIR, file), "utf8")) as Recorded;
      // Only figures of this scale (a quick `npm test` elsewhere may record into the same place).
      if (f.long !== LONG) continue;
      if (KEEP || Date.parse(f.at) >= this.started - 1000) figures.push(f);
    }
    // One row per campaign: the latest.
    const latest = new Map<string, Recorded>();
    for (const f of figures.sort((a, b) => a.at.localeCompare(b.at))) latest.set(`${f.section}\u0000${f.name}`, f);
    figures.splice(0, figures.length, ...latest.values());
    figures.sort((a, b) => a.section.localeCompare(b.section) || a.name.localeCompare(b.name));

    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const failures: string[] = [];
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") {
          failed++;
          failures.push(`${path.relative(process.cwd(), m.moduleId)} › ${t.fullName}`);
        } else skipped++;
      }
    }

    // This run's outcome is kept beside the figures; with KEEP, the runs of a campaign add up.
    const files = testModules.map((m) => path.relative(process.cwd(), m.moduleId));
    writeFileSync(
      path.join(FIGURES_DIR, `run-${LONG ? "full" : "quick"}-${Date.now()}.run`),
      JSON.stringify({ passed, failed, skipped, failures, files, at: new Date().toISOString() }),
    );
    const runs: Array<{ passed: number; failed: number; skipped: number; failures: string[]; files: string[] }> = [];
    for (const file of readdirSync(FIGURES_DIR)) {
      if (!file.startsWith(`run-${LONG ? "full" : "quick"}-`)) continue;
      if (
        !KEEP &&
        file !==
          readdirSync(FIGURES_DIR)
            .filter((f) => f.startsWith(`run-${LONG ? "full" : "quick"}-`))
            .sort()
            .at(-1)
      )
        continue;
      runs.push(JSON.parse(readFileSync(path.join(FIGURES_DIR, file), "utf8")));
    }
    passed = runs.reduce((n, r) => n + r.passed, 0);
    failed = runs.reduce((n, r) => n + r.failed, 0);
    skipped = runs.reduce((n, r) => n + r.skipped, 0);
    failures.splice(0, failures.length, ...runs.flatMap((r) => r.failures));
    const ranFiles = [...new Set(runs.flatMap((r) => r.files))].sort();

    const of = (id: string) => figures.filter((f) => f.section === id);
    const fuzz = of("fuzz");
    const races = of("races");
    const outages = of("outages");
    const failovers = of("failover");
    const multi = of("multi-process");
    const soak = of("soak");
    const prune = of("prune");
    const long = figures.length > 0 && figures.every((f) => f.long);
    const times = figures.map((f) => f.at).sort();
    const span =
      KEEP && times.length > 0
        ? ` Figures assembled from runs between ${times[0]} and ${times.at(-1)} (SESSIONKIT_FIGURES_KEEP=1); the test counts below add up those runs.`
        : "";
    const summary = [
      "| figure | value |",
      "| --- | --- |",
      `| hostile inputs tried | ${sum(fuzz, "inputs")} (${fuzz.length} campaigns; 5xx: ${sum(fuzz, "5xx")}, store writes: ${sum(fuzz, "store writes")}, crashes: ${sum(fuzz, "crashes") + sum(fuzz, "exceptions")}) |`,
      `| races run | ${sum(races, "requests") + sum(multi, "requests") + sum(multi, "logins")} requests in ${races.length + multi.length} campaigns; errors: ${sum(races, "errors") + sum(multi, "errors")}; served after revoke: ${sum(multi, "served after revoke")} |`,
      `| outages survived | ${outages.filter((o) => num(o.values["errors after recovery"]) === 0 && num(o.values["sessions lost"]) === 0).length} of ${outages.length} (${outages.map((o) => `${o.name}: ${o.values["seconds to recover"]} s to recover`).join("; ")}) |`,
      `| Redis failovers survived | ${failovers.filter((o) => num(o.values["errors after recovery"]) === 0 && num(o.values["unclean failures"]) === 0).length} of ${failovers.length}${failovers.length ? ` (${failovers.map((o) => `${o.name}: ${o.values["seconds to recover"]} s to recover, ${o.values["sessions lost"]} sessions and ${o.values["writes lost"]} writes lost`).join("; ")})` : ""} |`,
      `| errors after recovery | ${sum(outages, "errors after recovery") + sum(failovers, "errors after recovery")} |`,
      `| sessions lost | ${sum(outages, "sessions lost") + sum(multi, "keys lost")} |`,
      `| RSS start / end (soak) | ${soak.map((s) => `${s.name}: ${s.values["RSS start MB"]} / ${s.values["RSS end MB"]} MB over ${s.values.seconds} s, ${s.values.errors} errors`).join("; ") || "not run"} |`,
      `| prune time and read p99 | ${prune.map((p) => `${p.name}: ${p.values.pruned} rows in ${p.values["prune seconds"]} s, p99 ${p.values["read p99 without ms"]} ms without / ${p.values["read p99 during ms"]} ms during`).join("; ") || "not run"} |`,
    ].join("\n");

    const cpus = os.cpus();
    const commit = git("rev-parse", "HEAD");
    const dirty = git("status", "--porcelain") === "" ? "" : " (working tree had uncommitted changes)";
    const lines = [
      "# Reliability figures",
      "",
      "<!-- Written by test/reliability/reporter.ts at the end of `npm run test:long`. Do not edit by hand. -->",
      "",
      `Latest ${long ? "full" : "quick (or partly quick)"} run: ${new Date().toISOString()} · commit \`${commit.slice(0, 12)}\`${dirty} · ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${Math.round(os.totalmem() / 1024 ** 3)} GB RAM, ${os.type()} ${os.release()}, Node ${process.version}.${span}`,
      "",
      `Tests: ${passed} passed, ${failed} failed, ${skipped} skipped${runs.length > 1 ? ` in ${runs.length} runs` : ""}, in ${ranFiles.map((f) => `\`${f}\``).join(", ")}.${failures.length ? ` Failed: ${failures.map((f) => `\`${f}\``).join("; ")}.` : ""}`,
      "",
      "How to reproduce: `npm run test:long` (sets `SESSIONKIT_LONG=1`; needs the PostgreSQL, MariaDB and Redis of `test/setup/services.ts`, and `redis-server` installed). `npm test` runs the same campaigns at quick scale. Latencies are from a machine shared with other work, so they are upper bounds.",
      "",
      "## Summary",
      "",
      summary,
      "",
    ];
    for (const section of SECTIONS) {
      const rows = of(section.id);
      lines.push(`## ${section.title}`, "", section.about, "", rows.length ? table(rows) : "_Not run in this run._", "");
    }
    const out = path.join(process.cwd(), "docs", "reliability.md");
    writeFileSync(out, `${lines.join("\n")}`);
    try {
      // Aligned tables, so `npm run lint` accepts the generated file as it is.
      execFileSync(path.join(process.cwd(), "node_modules", ".bin", "biome"), ["format", "--write", out], { stdio: "ignore" });
    } catch {
      console.warn("[reliability] biome format of docs/reliability.md failed; the content is complete");
    }
    console.log(`[reliability] wrote docs/reliability.md from ${figures.length} figures`);
  }
}
