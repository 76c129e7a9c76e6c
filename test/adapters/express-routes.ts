/** The routes of the shared adapter suite, for every Express version (they use only APIs Express 4 and 5 share). */
import type { ErrorRequestHandler, Express } from "express";
import { csrfProtection } from "../../src/adapters/express.js";

export const errorHandler: ErrorRequestHandler = (error, _req, res, _next) => {
  const status = (error as { status?: number }).status ?? 500;
  res.status(status).json({ error: (error as Error).name });
};

export function routes(app: Express, arrive: () => Promise<void>) {
  app.get("/read", (req, res) => {
    res.json({ cart: req.session.get("cart") ?? null, userId: req.session.userId, id: req.session.id, isNew: req.session.isNew });
  });
  app.post("/add", (req, res) => {
    const cart = [...((req.session.get("cart") as string[] | undefined) ?? []), String(req.query.item)];
    req.session.set("cart", cart);
    res.json({ cart });
  });
  app.post("/set", async (req, res) => {
    if (req.query.sync) await arrive();
    req.session.set(String(req.query.key), String(req.query.value));
    res.json({ ok: true });
  });
  app.get("/get", (req, res) => {
    res.json({ value: req.session.get(String(req.query.key)) });
  });
  app.post("/login", async (req, res) => {
    await req.session.login(String(req.query.user));
    res.json({ id: req.session.id });
  });
  app.post("/logout", (req, res) => {
    req.session.destroy();
    res.json({ ok: true });
  });
  app.get("/csrf", (req, res) => {
    res.json({ token: req.session.csrfToken() });
  });
  app.post("/protected", csrfProtection(), (_req, res) => {
    res.type("text").send("ok");
  });
  app.get("/redirect", (req, res) => {
    req.session.set("redirected", true);
    res.redirect("/read");
  });
  app.get("/cached", (req, res) => {
    req.session.set("cachedVisit", true);
    res.set("cache-control", "private, max-age=60").send("cached");
  });
}
