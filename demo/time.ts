import { html, type SafeHtml } from "./html.js";

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
  ["second", 1000],
];

/** "5 minutes ago", "in 7 days", "now". */
export function fromNow(date: Date, now: number): string {
  const diff = date.getTime() - now;
  if (Math.abs(diff) < 10_000) return "just now";
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms) return relative.format(Math.round(diff / ms), unit);
  }
  return "just now";
}

/** A `<time>` element: relative text, the exact UTC time as its tooltip. */
export function timeTag(date: Date | null, now: number, never = "never"): SafeHtml {
  if (date === null) return html`<span class="muted">${never}</span>`;
  const exact = `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  return html`<time datetime="${date.toISOString()}" title="${exact}">${fromNow(date, now)}</time>`;
}
