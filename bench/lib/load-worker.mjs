// The load generator, in a process of its own (neither the parent of the servers nor one of
// them), so its CPU use is not charged to the run's bookkeeping and it never shares an event
// loop with an app. Driven over IPC by bench/lib/http.mjs:
//   { type: "run", id, port, path, cookies, seconds, connections }  ->  { type: "result", id, ... }
import autocannon from "autocannon";

process.on("message", async (message) => {
  if (message?.type !== "run") return;
  const { id, port, path, cookies, seconds, connections } = message;
  try {
    let next = 0;
    const request =
      cookies.length === 0
        ? { method: "GET", path }
        : {
            method: "GET",
            path,
            // Each request carries the next session of the pool: concurrent requests hit different sessions.
            setupRequest: (req) => ({ ...req, headers: { ...req.headers, cookie: cookies[next++ % cookies.length] } }),
          };
    const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections, duration: seconds, requests: [request] });
    process.send({
      type: "result",
      id,
      total: result.requests.total,
      rps: result.requests.total / (result.duration || seconds),
      p99: result.latency.p99,
      failures: result.non2xx + result.errors + result.timeouts,
    });
  } catch (error) {
    process.send({ type: "result", id, error: String(error?.stack ?? error) });
  }
});
process.on("disconnect", () => process.exit(0));
