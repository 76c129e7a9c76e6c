import { html, type SafeHtml } from "../html.js";
import type { DemoUser } from "../users.js";

/** Sign in by picking a demo user; the session token rotates when you do. */
export function signInPage(users: readonly DemoUser[], csrf: string): SafeHtml {
  return html`
<h1>Sign in</h1>
<p class="lead">Demo accounts, no passwords. Signing in gives this browser a brand-new session token
(the old one stops working), so a token planted before sign-in is worthless afterwards.</p>
<section class="card">
  <form method="post" action="/signin">
    <input type="hidden" name="_csrf" value="${csrf}">
    <ul class="users">
      ${users.map((u) => html`<li><button class="secondary" type="submit" name="user" value="${u.id}">${u.name}</button></li>`)}
    </ul>
    <label class="remember"><input type="checkbox" name="remember" value="1"> Keep me signed in for 30 days</label>
    <p class="muted small">Unticked, the cookie lasts until the browser closes and the session ends after a day
    without use; ticked, it slides for 30 days of inactivity (<code>session.setLifetime()</code>).</p>
  </form>
</section>`;
}
