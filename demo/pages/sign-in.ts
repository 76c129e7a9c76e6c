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
  </form>
</section>`;
}
