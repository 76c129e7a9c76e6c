/** Output helpers for the CLI: plain text that reads well in a terminal and greps well in a pipe. */
import type { MigrateResult } from "../contract/store.js";

/** A time as an ISO string; `null` as the given word. */
export const iso = (ms: number | null, none = "never") => (ms === null ? none : new Date(ms).toISOString());

const cut = (value: string, width: number) => (value.length <= width ? value : `${value.slice(0, width - 1)}…`);

/**
 * Left-aligned columns separated by two spaces, a header row first. Cells longer than the
 * column's `max` are cut with an ellipsis.
 */
export function table(headers: string[], rows: string[][], max: Array<number | undefined> = []): string {
  const cells = rows.map((row) => row.map((cell, i) => cut(cell.replace(/[\r\n\t]/g, " "), max[i] ?? Number.POSITIVE_INFINITY)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** What `migrate` did, in words; `undefined` is a store that reports nothing (older stores). */
export function migrateMessage(result: MigrateResult | undefined, where: string): string {
  if (result === undefined) return `schema is up to date: ${where}`;
  switch (result.action) {
    case "created":
      return `created the sessions table (schema version ${result.to}): ${where}`;
    case "upgraded":
      return `upgraded the sessions table from schema version ${result.from} to ${result.to}: ${where}`;
    default:
      return `already at schema version ${result.to}, nothing to do: ${where}`;
  }
}
