import { type CartLine, COOKIE_LIMIT, formatBytes, formatPrice, MAX_CART_LINES, PRODUCTS } from "../cart.js";
import { html, type SafeHtml } from "../html.js";

export interface HomeView {
  userName: string | null;
  visits: number;
  cart: readonly CartLine[];
  /** Bytes of the session data as JSON (stored encrypted on the server). */
  dataBytes: number;
  /** Bytes of the session cookie the browser sent (`name=value`), or null on a first visit. */
  cookieBytes: number | null;
  cookieName: string;
  csrf: string;
}

function meter(bytes: number): SafeHtml {
  const percent = Math.min(100, Math.round((bytes / COOKIE_LIMIT) * 100));
  return html`<div class="meter ${bytes > COOKIE_LIMIT ? "over" : ""}"><div style="width:${percent}%"></div></div>`;
}

/** Home: who you are, a visit counter and a cart kept in the session, data size next to cookie size. */
export function homePage(view: HomeView): SafeHtml {
  const total = view.cart.reduce((sum, line) => sum + line.priceCents, 0);
  const lines = view.cart.slice(-5).reverse();
  const full = view.cart.length >= MAX_CART_LINES;
  return html`
<h1>${view.userName ? `Welcome back, ${view.userName}` : "Server-side sessions, in one page"}</h1>
<p class="lead">${
    view.userName
      ? html`Open <a href="/devices">Devices</a> to see every browser signed in to your account, and sign any of them out.`
      : html`Everything below lives in a session on the server. <a href="/signin">Sign in</a> from two browsers to manage devices.`
  }</p>

<div class="grid">
  <section class="card" aria-label="visits">
    <h2>Visits</h2>
    <div class="stat" data-testid="visits">${view.visits}</div>
    <div class="muted small">Counted in the session on every load of this page.</div>
  </section>
  <section class="card" aria-label="sizes">
    <h2>Data vs cookie</h2>
    <div class="row small"><strong>Session data</strong><span class="muted">(on the server, encrypted)</span>
      <span data-testid="data-bytes" data-bytes="${view.dataBytes}">${formatBytes(view.dataBytes)}</span></div>
    ${meter(view.dataBytes)}
    <div class="row small"><strong>Cookie</strong><span class="muted">(<code>${view.cookieName}</code>, in the browser)</span>
      <span data-testid="cookie-bytes" data-bytes="${view.cookieBytes ?? 0}">${view.cookieBytes === null ? "set with this page" : formatBytes(view.cookieBytes)}</span></div>
    ${meter(view.cookieBytes ?? 0)}
    <div class="muted small">Bars are against the ${formatBytes(COOKIE_LIMIT)} a browser keeps per cookie.
      ${view.dataBytes > COOKIE_LIMIT ? html`<strong>This data would no longer fit in a cookie.</strong>` : ""}</div>
  </section>
</div>

<section class="card" aria-label="cart">
  <h2>Cart <span class="muted small" data-testid="cart-count">${view.cart.length} item${view.cart.length === 1 ? "" : "s"}, ${formatPrice(total)}</span></h2>
  <div class="row">
    <form class="row" method="post" action="/cart/add">
      <input type="hidden" name="_csrf" value="${view.csrf}">
      <select name="sku" aria-label="product">${PRODUCTS.map((p) => html`<option value="${p.sku}">${p.name} (${formatPrice(p.priceCents)})</option>`)}</select>
      <button type="submit" ${full ? html`disabled` : ""}>Add to cart</button>
    </form>
    <form class="inline" method="post" action="/cart/fill">
      <input type="hidden" name="_csrf" value="${view.csrf}">
      <button class="secondary" type="submit" ${full ? html`disabled` : ""}>${view.dataBytes > COOKIE_LIMIT ? "Add another 4 KB" : "Fill past 4 KB"}</button>
    </form>
    <form class="inline" method="post" action="/cart/clear">
      <input type="hidden" name="_csrf" value="${view.csrf}">
      <button class="danger" type="submit" ${view.cart.length === 0 ? html`disabled` : ""}>Empty cart</button>
    </form>
  </div>
  ${
    lines.length > 0
      ? html`<div class="scroll"><table class="small" style="margin-top:12px"><thead><tr><th>Item</th><th>Options</th><th>Price</th></tr></thead><tbody>
      ${lines.map((l) => html`<tr><td>${l.name}</td><td class="muted">${l.options}</td><td class="nowrap">${formatPrice(l.priceCents)}</td></tr>`)}
      </tbody></table></div>${view.cart.length > lines.length ? html`<div class="muted small">…and ${view.cart.length - lines.length} more.</div>` : ""}`
      : html`<p class="muted small">Empty. Add a few items, or fill the cart until the session holds more than a cookie ever could.</p>`
  }
</section>`;
}
