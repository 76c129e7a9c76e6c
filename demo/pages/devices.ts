import type { SessionInfo } from "../../src/core/sessions.js";
import { html, type SafeHtml } from "../html.js";
import { timeTag } from "../time.js";
import { describeUserAgent, displayIp } from "../user-agent.js";

export interface DevicesView {
  userName: string;
  sessions: readonly SessionInfo[];
  csrf: string;
  now: number;
}

function deviceRow(info: SessionInfo, csrf: string, now: number): SafeHtml {
  const device = describeUserAgent(info.userAgent);
  return html`<tr class="${info.current ? "current" : ""}" data-testid="device" data-current="${String(info.current)}">
  <td class="device"><strong>${device.browser}</strong>${info.current ? html`<span class="tag">this device</span>` : ""}
    <div class="muted small">${device.os} · ${device.kind}</div>
    <div class="muted small" title="${info.userAgent ?? ""}">session <code>${info.id.slice(0, 8)}</code></div></td>
  <td data-label="IP">${displayIp(info.ip)}</td>
  <td data-label="Signed in">${timeTag(info.createdAt, now)}</td>
  <td data-label="Last active">${timeTag(info.lastActiveAt, now)}</td>
  <td data-label="Expires">${timeTag(info.expiresAt, now)}</td>
  <td><form class="inline" method="post" action="/devices/revoke">
    <input type="hidden" name="_csrf" value="${csrf}">
    <input type="hidden" name="id" value="${info.id}">
    <button class="danger" type="submit">${info.current ? "Sign out" : "Revoke"}</button>
  </form></td>
</tr>`;
}

/** Devices: every live session of the user, with revoke buttons and "sign out all other devices". */
export function devicesPage(view: DevicesView): SafeHtml {
  const others = view.sessions.filter((s) => !s.current).length;
  return html`
<h1>Devices</h1>
<p class="lead">Every browser signed in as ${view.userName}, most recently active first. Revoking deletes the
session on the server: that browser is signed out on its next request, wherever it is.</p>
<section class="card">
  <table class="devices">
    <thead><tr><th>Browser</th><th>IP</th><th>Signed in</th><th>Last active</th><th>Expires</th><th></th></tr></thead>
    <tbody>${view.sessions.map((s) => deviceRow(s, view.csrf, view.now))}</tbody>
  </table>
</section>
<div class="row">
  <form class="inline" method="post" action="/devices/revoke-others">
    <input type="hidden" name="_csrf" value="${view.csrf}">
    <button class="danger" type="submit" ${others === 0 ? html`disabled` : ""}>Sign out all other devices (${others})</button>
  </form>
  <span class="muted small">Last active is updated at most once a minute, so reads stay free of writes.</span>
</div>`;
}
