import { html, type SafeHtml } from "../html.js";

/** Shown with a 403 when a form arrives without this session's CSRF token. */
export function refusedPage(): SafeHtml {
  return html`
<h1>Form refused</h1>
<section class="card">
  <p>This form arrived without a valid CSRF token, so nothing was changed. A page on another site can make
  your browser post here, but it cannot read the token this site puts in its own forms.</p>
  <p class="muted small">If you came here by opening an old tab: the token changes when you sign in or out.
  <a href="/">Back to Home</a> and try again.</p>
</section>`;
}

/** Shown with a 5xx when something else failed (a store error, for instance). */
export function errorPage(message: string): SafeHtml {
  return html`
<h1>Something went wrong</h1>
<section class="card"><p>${message}</p><p><a href="/">Back to Home</a></p></section>`;
}
