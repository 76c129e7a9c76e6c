// The chart of a run (SVG), plotted by vega-lite + vega, headless: requests per second of every
// configuration as a fraction of the same framework with no session layer.
import { httpCells } from "./report.mjs";

const NAMES = {
  floor: "floor (one read by key)",
  "bare-dict": "Express alone, dictionary mode",
  "floor-dict": "floor, dictionary mode",
  sessionkit: "sessionkit",
  cache: "sessionkit + near-cache",
  peer: "peer (express-session / @fastify/session)",
  "peer-dict": "peer, dictionary mode",
};

/** The SVG text, or null when the run has no HTTP rows. */
export async function chartSvg(rows, { title }) {
  const values = [];
  for (const row of rows) {
    if (row.level === "engine" || row.scenario === "visit") continue;
    for (const cell of httpCells(row)) {
      if (cell.side.key === "bare" || cell.ofBare === null) continue;
      values.push({
        framework: row.level,
        scenario: row.scenario,
        backend: row.backend,
        configuration: NAMES[cell.side.key],
        fraction: Number(cell.ofBare.toFixed(3)),
      });
    }
  }
  if (values.length === 0) return null;
  const vl = await import("vega-lite");
  const vega = await import("vega");
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, fontSize: 12, anchor: "start" },
    data: { values },
    facet: {
      row: { field: "scenario", type: "nominal", title: null, sort: ["read", "write"] },
      column: { field: "framework", type: "nominal", title: null, sort: ["express", "fastify", "hono", "koa"] },
    },
    spec: {
      width: { step: 56 },
      height: 160,
      layer: [
        {
          mark: { type: "bar" },
          encoding: {
            x: { field: "backend", type: "nominal", title: null, sort: ["memory", "sqlite", "redis", "postgres", "mysql"] },
            xOffset: { field: "configuration", type: "nominal", sort: Object.values(NAMES) },
            y: { field: "fraction", type: "quantitative", title: "req/s ÷ the framework alone", scale: { zero: true } },
            color: {
              field: "configuration",
              type: "nominal",
              sort: Object.values(NAMES),
              legend: { orient: "bottom", title: null },
            },
            tooltip: [{ field: "configuration" }, { field: "backend" }, { field: "fraction" }],
          },
        },
        { mark: { type: "rule", strokeDash: [4, 3], color: "#555" }, encoding: { y: { datum: 1 } } },
      ],
    },
    resolve: { scale: { x: "independent" } },
    config: { font: "sans-serif" },
  };
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
