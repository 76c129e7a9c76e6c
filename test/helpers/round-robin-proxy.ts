/**
 * A loopback HTTP proxy that sends each request to the next of several backends in turn, as a
 * load balancer in front of several app processes would (no stickiness: every request of
 * one client may land on another process). Listens on 127.0.0.1 only.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RoundRobinProxy {
  readonly url: string;
  /** Requests forwarded per backend port. */
  readonly counts: Map<number, number>;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"]);

const withoutHopByHop = (headers: http.IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));

export async function startRoundRobinProxy(ports: readonly number[]): Promise<RoundRobinProxy> {
  // One upstream connection per request: a kept-alive socket the backend is closing (its
  // keepAliveTimeout) would turn into a spurious "socket hang up" 502 that no app caused.
  const agent = new http.Agent({ keepAlive: false, maxSockets: 512 });
  const counts = new Map(ports.map((p) => [p, 0]));
  let next = 0;
  const server = http.createServer((req, res) => {
    const port = ports[next++ % ports.length] as number;
    counts.set(port, (counts.get(port) ?? 0) + 1);
    const upstream = http.request(
      { host: "127.0.0.1", port, method: req.method, path: req.url, headers: withoutHopByHop(req.headers), agent },
      (reply) => {
        // Hop-by-hop headers describe the backend's connection, not ours: forwarding its
        // "Keep-Alive: timeout=72" (Fastify) would make clients keep sockets that this
        // server closes after its own 5 s, and reuse them into a reset.
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(reply.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
        }
        res.writeHead(reply.statusCode ?? 502, headers);
        reply.pipe(res);
      },
    );
    upstream.on("error", (error) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy: ${error.message}`);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
