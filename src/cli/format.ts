/** Output helpers for the CLI: plain text that reads well in a terminal and greps well in a pipe. */

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
