/**
 * A raw HTTP/1.1 exchange over a loopback socket, for inputs Node's HTTP client refuses to
 * send (CR/LF, NUL, bytes above Latin-1): header-injection attempts reach the server as
 * written. Sends `Connection: close` and reads until the server closes (bounded by `timeoutMs`).
 */
import net from "node:net";

export interface RawResponse {
  /** Status codes of every response the server wrote on the connection (a pipelined "request" may add one). */
  statuses: number[];
  /** Everything the server sent, as Latin-1. */
  text: string;
}

export function rawRequest(port: number, head: string, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`raw request to ${port} got no close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", () => {
      // a reset after the response is fine; the close handler reports what arrived
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ statuses, text });
    });
    socket.on("connect", () => {
      socket.end(Buffer.from(head, "utf8"));
    });
  });
}
