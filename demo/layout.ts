import { html, SafeHtml } from "./html.js";

/** What every page's frame needs to know. */
export interface LayoutContext {
  title: string;
  /** The signed-in user's display name, or null. */
  userName: string | null;
  /** CSRF token for the sign-out form in the header (present whenever the user is signed in). */
  csrf: string | null;
  /** Which nav entry to highlight. */
  active: "home" | "signin" | "devices" | null;
  /** A one-line message shown above the content. */
  notice?: { kind: "info" | "warn"; text: string } | null;
}

// One inline stylesheet, no external assets: the demo must work offline.
const STYLE = `
:root { --fg:#1c2430; --muted:#5b6675; --line:#dfe3ea; --bg:#f6f7fb; --card:#fff; --accent:#2f5fd0; --accent-bg:#e8eefc;
  --warn:#9a3b12; --warn-bg:#fdeee6; --ok:#17703f; --ok-bg:#e3f4ea; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color:var(--fg); background:var(--bg); }
header { background:var(--card); border-bottom:1px solid var(--line); }
.bar { max-width:920px; margin:0 auto; padding:10px 20px; display:flex; align-items:center; gap:18px; }
.brand { font-weight:700; letter-spacing:.2px; margin-right:8px; }
.brand span { color:var(--accent); }
nav a { color:var(--muted); text-decoration:none; padding:6px 2px; border-bottom:2px solid transparent; }
nav a.active, nav a:hover { color:var(--fg); border-color:var(--accent); }
nav { display:flex; gap:16px; flex:1; }
.who { color:var(--muted); font-size:14px; display:flex; align-items:center; gap:10px; }
main { max-width:920px; margin:24px auto; padding:0 20px; }
h1 { font-size:24px; margin:0 0 6px; }
h2 { font-size:17px; margin:0 0 10px; }
p.lead { color:var(--muted); margin:0 0 20px; }
a { color:var(--accent); }
.card p:first-child { margin-top:0; }
.card p:last-child { margin-bottom:0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin-bottom:18px; }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:18px; margin-bottom:18px; }
.grid .card { margin-bottom:0; }
.stat { font-size:32px; font-weight:700; }
.muted { color:var(--muted); }
.small { font-size:13px; }
button { font:inherit; border:1px solid var(--accent); background:var(--accent); color:#fff; border-radius:7px; padding:6px 14px; cursor:pointer; }
button:disabled { opacity:.45; cursor:default; }
button.secondary { background:var(--card); color:var(--accent); }
button.danger { border-color:var(--warn); background:var(--card); color:var(--warn); }
button.link { border:none; background:none; color:var(--accent); padding:0; }
form.inline { display:inline; margin:0; }
select { font:inherit; padding:5px 8px; border:1px solid var(--line); border-radius:7px; background:#fff; }
.row { display:flex; gap:10px; align-items:center; flex-wrap:wrap; }
table { width:100%; border-collapse:collapse; font-size:14px; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
th, td { padding:10px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
tr:last-child td { border-bottom:none; }
tr.current td { background:var(--accent-bg); }
.tag { display:inline-block; font-size:12px; font-weight:600; padding:1px 8px; border-radius:999px; background:var(--accent); color:#fff; margin-left:6px; }
.notice { border-radius:8px; padding:10px 14px; margin-bottom:18px; }
.notice.info { background:var(--ok-bg); color:var(--ok); }
.notice.warn { background:var(--warn-bg); color:var(--warn); }
.meter { height:10px; background:#edf0f5; border-radius:5px; overflow:hidden; margin:6px 0 2px; }
.meter div { height:100%; background:var(--accent); }
.meter.over div { background:var(--warn); }
code { font:13px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; background:#eef1f6; padding:1px 5px; border-radius:4px; }
ul.users { list-style:none; padding:0; margin:0; display:grid; grid-template-columns:1fr 1fr; gap:10px; }
ul.users button { width:100%; text-align:left; padding:10px 14px; }
label.remember { display:flex; gap:8px; align-items:center; margin:14px 0 4px; }
footer { max-width:920px; margin:0 auto 30px; padding:0 20px; color:var(--muted); font-size:13px; }
select { max-width:100%; }
td, .notice, p { overflow-wrap:anywhere; }
td.nowrap { white-space:nowrap; overflow-wrap:normal; }
/* A table that cannot reflow scrolls inside its card instead of widening the page. */
.scroll { overflow-x:auto; }
/* Phones (390 px is an iPhone 12-15): one column, header on two lines, and the Devices table
   as one stacked card per device, each cell with its column name (data-label). */
@media (max-width: 640px) {
  .bar { flex-wrap:wrap; gap:6px 14px; padding:10px 14px; }
  .bar nav { flex:1 1 auto; }
  .who { flex:1 1 100%; justify-content:space-between; }
  main { margin:16px auto; padding:0 12px; }
  footer { padding:0 12px; }
  .card { padding:14px; }
  .grid, ul.users { grid-template-columns:1fr; }
  table.devices thead { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); }
  table.devices, table.devices tbody, table.devices tr, table.devices td { display:block; width:100%; }
  table.devices tr { border-bottom:1px solid var(--line); padding:8px 0; }
  table.devices tr:last-child { border-bottom:none; }
  table.devices tr.current { background:var(--accent-bg); border-radius:8px; padding:8px; }
  table.devices tr.current td { background:none; }
  table.devices td { border:none; padding:3px 0; display:flex; gap:10px; }
  table.devices td[data-label]::before { content:attr(data-label); flex:0 0 92px; color:var(--muted); font-size:12px;
    text-transform:uppercase; letter-spacing:.4px; padding-top:2px; }
  table.devices td.device { display:block; }
}
`;

/** The page frame: header with navigation and the signed-in user, notice, content. */
export function layout(ctx: LayoutContext, content: SafeHtml): SafeHtml {
  const link = (href: string, label: string, key: LayoutContext["active"]) =>
    html`<a href="${href}" class="${ctx.active === key ? "active" : ""}">${label}</a>`;
  const who =
    ctx.userName !== null
      ? html`<span>Signed in as <strong>${ctx.userName}</strong></span>
          <form class="inline" method="post" action="/signout">
            <input type="hidden" name="_csrf" value="${ctx.csrf ?? ""}">
            <button class="secondary" type="submit">Sign out</button>
          </form>`
      : html`<span>Not signed in</span>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${ctx.title} · sessionkit demo</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<header><div class="bar">
  <div class="brand">session<span>kit</span> demo</div>
  <nav>${link("/", "Home", "home")}${ctx.userName !== null ? link("/devices", "Devices", "devices") : link("/signin", "Sign in", "signin")}</nav>
  <div class="who">${who}</div>
</div></header>
<main>
${ctx.notice ? html`<div class="notice ${ctx.notice.kind}" role="status">${ctx.notice.text}</div>` : ""}
${content}
</main>
<footer>Sessions live on the server; the browser holds only a signed token. Every form carries a CSRF token.</footer>
</body>
</html>`;
}
