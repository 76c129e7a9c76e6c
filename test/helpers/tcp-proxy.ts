/**
 * A loopback TCP proxy that a test can cut and restore, to show what a store does when its
 * database connection drops, without stopping the shared database server.
 *
 * While cut, every open connection is destroyed and new ones are closed as soon as they
 * arrive (the client sees a reset, as when the server goes away). Listens on 127.0.0.1 only.
 */
import net from "node:net";

export interface TcpProxy {
  /** The port on 127.0.0.1 that forwards to the target. */
  readonly port: number;
  /** Rewrites `url` (postgres://, mysql://...) to go through the proxy. */
  urlFor(url: string): string;
  /** Drops every connection and refuses new ones until `restore()`. */
  cut(): void;
  /** Forwards new connections again. */
  restore(): void;
  /** Connections forwarded right now. */
  readonly open: number;
  close(): Promise<void>;
}

/** Starts a proxy to `target` (host and port). */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let cut = false;

  const server = net.createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port });
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  const dropAll = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  return {
    port,
    urlFor(url: string) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    cut() {
      cut = true;
      dropAll();
    },
    restore() {
      cut = false;
    },
    get open() {
      return pairs.size;
    },
    close() {
      cut = true;
      dropAll();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
