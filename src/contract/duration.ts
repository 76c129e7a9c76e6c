import { SessionConfigError } from "./errors.js";

/** Milliseconds, or a string like "500ms", "90s", "15m", "12h", "7d", "2w". */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d" | "w"}`;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/;

/** Parses a duration option; `null` stays null (= none). Throws a config error naming the option. */
export function parseDuration(value: Duration | null | undefined, option: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") {
    if (Number.isFinite(value) && value >= 0) return Math.round(value);
  } else if (typeof value === "string") {
    const match = PATTERN.exec(value);
    if (match) return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  }
  throw new SessionConfigError(
    `${option} must be milliseconds or a string like "90s", "15m", "7d" (or null for none), got ${JSON.stringify(value)}`,
  );
}
