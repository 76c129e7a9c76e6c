/**
 * The demo in a real browser: Debian's Chromium driven by playwright-core (never a downloaded
 * browser). Browser contexts are separate cookie jars, so each one is a device.
 *
 * Screenshots of every page go to test-artifacts/screenshots/. With UPDATE_DOCS_SCREENSHOT=1
 * the Devices page is also copied to docs/images/devices.png for the README, and the
 * phone-width shots (390x844) to docs/images/phone-*.png for docs/demo.md.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningDemo, startDemo } from "./harness.js";

const SHOTS = join(process.cwd(), "test-artifacts", "screenshots");
const IPHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";

function findChromium(): string | null {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

const executablePath = findChromium();
const underCi = process.env.CI === "true" || process.env.CI === "1";
if (executablePath === null) {
  const line = "install Debian's chromium (`apt-get install chromium`) to run the demo's browser tests";
  if (underCi) throw new Error(`[sessionkit] [demo] chromium not found: ${line}. Under CI this is a failure, not a skip.`);
  console.warn(`\n${"!".repeat(78)}\n  SKIPPING test/demo/browser.test.ts: ${line}\n${"!".repeat(78)}\n`);
}

// Each test drives several pages; the bound is generous for a loaded CI machine, every step has its own 15 s limit.
describe.skipIf(executablePath === null)("demo in Chromium", { timeout: 90_000 }, () => {
  let browser: Browser | undefined;
  let running: RunningDemo | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    running = await startDemo();
    browser = await chromium.launch({
      executablePath: executablePath as string,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      timeout: 30_000,
    });
  });

  afterAll(async () => {
    // Each step on its own: a failing close must not leave the browser or the server running.
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await running?.close();
  });

  const base = () => (running as RunningDemo).url;

  /** A new device: its own cookie jar; `userAgent` decides what the Devices page shows. */
  async function device(userAgent?: string, viewport = { width: 1000, height: 640 }): Promise<Page> {
    const b = browser as Browser;
    const context = await b.newContext({ viewport, ...(userAgent ? { userAgent } : {}) });
    contexts.push(context);
    context.setDefaultTimeout(15_000);
    context.setDefaultNavigationTimeout(15_000);
    return context.newPage();
  }

  /** A desktop Chrome user agent for this Chromium's version (the headless one says "HeadlessChrome"). */
  const desktopUa = () =>
    `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${(browser as Browser).version()} Safari/537.36`;

  async function shot(page: Page, name: string): Promise<string> {
    const path = join(SHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  }

  async function sessionCookie(page: Page) {
    const cookies = await page.context().cookies(base());
    return cookies.find((c) => c.name === "sid");
  }

  /** Clicks a form button and waits until the page it leads to (after redirects) has loaded. */
  async function submit(page: Page, button: Locator) {
    const loaded = page.waitForEvent("load");
    await button.click();
    await loaded;
  }

  const text = async (locator: Locator) => (await locator.textContent()) ?? "";
  const path = (page: Page) => new URL(page.url()).pathname + new URL(page.url()).search;

  async function signIn(page: Page, name: string) {
    await page.goto(`${base()}/signin`);
    await submit(page, page.getByRole("button", { name }));
    expect(path(page)).toBe("/");
    expect(await text(page.locator(".who"))).toContain(`Signed in as ${name}`);
  }

  it("two devices of one user: the first lists both, revokes the second, which is signed out on its next load", async () => {
    const laptop = await device(desktopUa());
    const phone = await device(IPHONE_UA);
    await signIn(laptop, "Ada Lovelace");
    await signIn(phone, "Ada Lovelace");

    await laptop.goto(`${base()}/devices`);
    const rows = laptop.getByTestId("device");
    expect(await rows.count()).toBe(2);
    const current = laptop.locator('[data-testid="device"][data-current="true"]');
    expect(await current.count()).toBe(1);
    expect(await text(current)).toContain("this device");
    expect(await text(current)).toContain("Chrome");
    const other = laptop.locator('[data-testid="device"][data-current="false"]');
    expect(await text(other)).toContain("Mobile Safari");
    expect(await text(other)).toContain("iOS");
    const shotPath = await shot(laptop, "devices");
    if (process.env.UPDATE_DOCS_SCREENSHOT === "1") {
      mkdirSync(join(process.cwd(), "docs", "images"), { recursive: true });
      copyFileSync(shotPath, join(process.cwd(), "docs", "images", "devices.png"));
    }

    await submit(laptop, other.getByRole("button", { name: "Revoke" }));
    expect(path(laptop)).toBe("/devices");
    expect(await text(laptop.locator(".notice"))).toContain("Signed out Mobile Safari");
    expect(await laptop.getByTestId("device").count()).toBe(1);
    await shot(laptop, "devices-after-revoke");

    // The phone still holds its cookie, but the server deleted the session behind it.
    await phone.goto(`${base()}/devices`);
    expect(new URL(phone.url()).pathname).toBe("/signin");
    expect(await text(phone.locator(".who"))).toContain("Not signed in");
    expect(await text(phone.locator(".notice"))).toContain("session has ended");
    await shot(phone, "revoked-device");

    // The laptop is untouched.
    await laptop.goto(`${base()}/`);
    expect(await text(laptop.locator(".who"))).toContain("Signed in as Ada Lovelace");
  });

  it("sign in replaces the cookie (fixation defence); the cookie is HttpOnly and SameSite=Lax", async () => {
    const page = await device();
    await page.goto(`${base()}/signin`);
    await shot(page, "sign-in");
    const before = await sessionCookie(page);
    expect(before?.value).toBeTruthy();

    await submit(page, page.getByRole("button", { name: "Grace Hopper" }));
    expect(path(page)).toBe("/");
    const after = await sessionCookie(page);
    expect(after?.value).toBeTruthy();
    expect(after?.value).not.toBe(before?.value);
    expect(after?.httpOnly).toBe(true);
    expect(after?.sameSite).toBe("Lax");
    // HttpOnly as the page sees it: scripts cannot read the token.
    expect(await page.evaluate(() => document.cookie)).not.toContain("sid=");

    // The token from before sign-in is dead: a browser that planted it is not signed in.
    const attacker = await device();
    await attacker.context().addCookies([{ name: "sid", value: before?.value as string, url: base() }]);
    await attacker.goto(`${base()}/`);
    expect(await text(attacker.locator(".who"))).toContain("Not signed in");
  });

  it("a form posted without the CSRF token is refused with 403 and changes nothing", async () => {
    const page = await device();
    await page.goto(`${base()}/`);
    expect(await text(page.getByTestId("cart-count"))).toContain("0 items");
    await page.locator('form[action="/cart/add"] input[name="_csrf"]').evaluate((input) => input.remove());
    const response = page.waitForResponse((r) => r.url().endsWith("/cart/add"));
    await submit(page, page.getByRole("button", { name: "Add to cart" }));
    expect((await response).status()).toBe(403);
    expect((await text(page.locator("h1"))).trim()).toBe("Form refused");
    await shot(page, "csrf-refused");

    // A forged token is refused too, also when sent as a header.
    const forged = await page.request.post(`${base()}/cart/add`, {
      form: { sku: "MUG-001", _csrf: "forged" },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);

    await page.goto(`${base()}/`);
    expect(await text(page.getByTestId("cart-count"))).toContain("0 items");
    // With the token, the same form works.
    await submit(page, page.getByRole("button", { name: "Add to cart" }));
    expect(path(page)).toBe("/");
    expect(await text(page.getByTestId("cart-count"))).toContain("1 item");
  });

  it("the cart grows past 4 KB of session data while the cookie stays under 200 bytes", async () => {
    const page = await device();
    await page.goto(`${base()}/`);
    await page.goto(`${base()}/`);
    expect((await text(page.getByTestId("visits"))).trim()).toBe("2");
    await submit(page, page.getByRole("button", { name: "Fill past 4 KB" }));
    expect(path(page)).toBe("/");
    const dataBytes = Number(await page.getByTestId("data-bytes").getAttribute("data-bytes"));
    const cookieBytes = Number(await page.getByTestId("cookie-bytes").getAttribute("data-bytes"));
    expect(dataBytes).toBeGreaterThan(4096);
    expect(cookieBytes).toBeGreaterThan(0);
    expect(cookieBytes).toBeLessThan(200);
    expect(await page.getByText("This data would no longer fit in a cookie.").isVisible()).toBe(true);
    await shot(page, "home");
  });

  it("at phone width (390x844) no page is wider than the screen; phone screenshots of each", async () => {
    const PHONE = { width: 390, height: 844 };
    const phone = await device(IPHONE_UA, PHONE);
    const laptop = await device(desktopUa());
    const docs = process.env.UPDATE_DOCS_SCREENSHOT === "1";
    /** The page's layout width, and a shot of it; `name` is the file under test-artifacts (and docs/images). */
    async function check(name: string) {
      const widths = await phone.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        // What leaves its card: the widest element's right edge, for a readable failure.
        // (Inside a .scroll box a wide table may scroll on its own; the box itself must fit.)
        widest: Math.max(
          ...[...document.querySelectorAll("body *")]
            .filter((e) => e.parentElement?.closest(".scroll") === null)
            .map((e) => Math.ceil(e.getBoundingClientRect().right)),
        ),
      }));
      expect(widths.scroll, `${name}: the page scrolls sideways (${JSON.stringify(widths)})`).toBeLessThanOrEqual(PHONE.width);
      expect(widths.widest, `${name}: an element sticks out of the screen`).toBeLessThanOrEqual(PHONE.width);
      const file = await shot(phone, `phone-${name}`);
      if (docs) copyFileSync(file, join(process.cwd(), "docs", "images", `phone-${name}.png`));
    }

    await phone.goto(`${base()}/`);
    await check("home");
    await phone.goto(`${base()}/signin`);
    await check("sign-in");
    await signIn(laptop, "Katherine Johnson");
    await signIn(phone, "Katherine Johnson");
    await submit(phone, phone.getByRole("button", { name: "Fill past 4 KB" }));
    await submit(phone, phone.getByRole("button", { name: "Add to cart" }));
    await check("home-full-cart");
    await phone.goto(`${base()}/devices`);
    expect(await phone.getByTestId("device").count()).toBe(2);
    // Stacked: every device is its own block inside the card, revoke button included.
    const card = await phone.locator("section.card").boundingBox();
    for (const button of await phone.getByTestId("device").getByRole("button").all()) {
      const box = await button.boundingBox();
      expect(box && card && box.x + box.width <= card.x + card.width).toBe(true);
    }
    await check("devices");
    await phone.goto(`${base()}/`);
    await phone.locator('form[action="/cart/add"] input[name="_csrf"]').evaluate((input) => input.remove());
    await submit(phone, phone.getByRole("button", { name: "Add to cart" }));
    expect((await text(phone.locator("h1"))).trim()).toBe("Form refused");
    await check("refused");
  });

  it("sign out deletes the session on the server; sign out all other devices signs out the rest", async () => {
    const first = await device(desktopUa());
    const second = await device(IPHONE_UA);
    const third = await device();
    for (const page of [first, second, third]) await signIn(page, "Alan Turing");

    await first.goto(`${base()}/devices`);
    expect(await first.getByTestId("device").count()).toBe(3);
    await submit(first, first.getByRole("button", { name: "Sign out all other devices (2)" }));
    expect(path(first)).toBe("/devices");
    expect(await text(first.locator(".notice"))).toContain("Signed out 2 other devices");
    expect(await first.getByTestId("device").count()).toBe(1);
    for (const page of [second, third]) {
      await page.goto(`${base()}/`);
      expect(await text(page.locator(".who"))).toContain("Not signed in");
    }

    const cookie = await sessionCookie(first);
    await submit(first, first.locator(".who").getByRole("button", { name: "Sign out" }));
    expect(path(first)).toBe("/?bye");
    expect(await text(first.locator(".who"))).toContain("Not signed in");
    expect(await text(first.locator(".notice"))).toContain("Signed out");
    await shot(first, "signed-out");
    // Replaying the old cookie elsewhere gets nothing: the session is gone, not just the cookie.
    const replay = await device();
    await replay.context().addCookies([{ name: "sid", value: cookie?.value as string, url: base() }]);
    await replay.goto(`${base()}/devices`);
    expect(new URL(replay.url()).pathname).toBe("/signin");
  });
});
