/**
 * Shared by the reliability tests: quick or full scale, and the figures each test records
 * for docs/reliability.md (written by test/reliability/reporter.ts at the end of
 * `npm run test:long`, never by hand).
 *
 * Quick (`npm test`): small counts that fit the suite's time budget.
 * Full (`SESSIONKIT_LONG=1`, what `npm run test:long` sets): the counts of issue 11.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const LONG = process.env.SESSIONKIT_LONG === "1";

/** `quick` under `npm test`, `long` under `npm run test:long`. */
export const scale = <T>(quick: T, long: T): T => (LONG ? long : quick);

/** Where the tests of one run leave their figures; the reporter clears it first and reads it last. */
export const FIGURES_DIR = process.env.SESSIONKIT_FIGURES_DIR ?? path.join(tmpdir(), "sessionkit-reliability-figures");

/** One row of docs/reliability.md. */
export interface Figure {
  /** Section of the report: "fuzz", "races", "outages", "failover", "multi-process", "soak", "prune". */
  section: string;
  /** What was run, e.g. "express adapter over HTTP". */
  name: string;
  /** The measured values, by column name. */
  values: Record<string, string | number | boolean>;
}

/** Records a figure (and prints it, so a quick run shows its counts too). */
export function recordFigure(figure: Figure): void {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const file = `${figure.section}-${figure.name.replace(/[^a-z0-9]+/gi, "-")}-${process.pid}.json`;
  writeFileSync(path.join(FIGURES_DIR, file), JSON.stringify({ ...figure, long: LONG, at: new Date().toISOString() }));
  console.log(`[reliability] ${figure.section} · ${figure.name}: ${JSON.stringify(figure.values)}`);
}

/** The p-th percentile (0-100) of `samples` in ms, rounded to 0.01. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, at)] as number) * 100) / 100;
}

/** Megabytes, rounded to 0.1. */
export const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
