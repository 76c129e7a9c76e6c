import type { ServerResponse } from "node:http";
import type { CommitHeaders } from "../http/response-headers.js";
import { applyNodeHeaders, type HeaderTarget } from "./node-headers.js";

type Method = "writeHead" | "write" | "end" | "flushHeaders";

/**
 * Holds a Node response back until `beforeHeaders` resolves, then adds the headers it
 * returned and lets the response go out. When it answers at once (a commit with nothing to
 * write, the usual read-only request) its headers are added and the response goes out
 * unheld: no queue, no replay.
 *
 * Commit is async but `writeHead` is sync, so the first `writeHead`/`write`/`end`/
 * `flushHeaders` starts the commit and every call is queued (writes report success, like
 * Node's own buffering before a socket is assigned) and replayed in order once it resolves.
 * `res.redirect`, `res.send`, `res.json`, piped streams and error handlers all go through
 * these methods. If the commit fails nothing has been sent yet: the queued response is
 * dropped, its headers removed, and `onError` gets the error (Express: `next(err)`), so the
 * framework's error handling answers with a 5xx. The wrappers stay installed in pass-through
 * mode afterwards (restoring would undo wrappers that later middleware put on top of ours).
 */
export function deferHeaders(
  res: ServerResponse,
  beforeHeaders: () => CommitHeaders | Promise<CommitHeaders>,
  onError: (error: unknown) => void,
): void {
  const original = {
    writeHead: res.writeHead,
    write: res.write,
    end: res.end,
    flushHeaders: res.flushHeaders,
  } as Record<Method, (...args: unknown[]) => unknown>;
  let mode: "idle" | "queue" | "pass" = "idle";
  const queue: Array<[Method, unknown[]]> = [];

  const call = (method: Method, args: unknown[]) => original[method].apply(res, args);

  /** The first write, when the headers are known now: add them and let it through. */
  function passNow(method: Method, args: unknown[], headers: CommitHeaders): unknown {
    mode = "pass";
    let callArgs = args;
    try {
      if (!res.headersSent) {
        if (method === "writeHead") callArgs = absorbWriteHeadHeaders(res, args);
        applyNodeHeaders(res as HeaderTarget, headers);
      }
    } catch (error) {
      onError(error);
      return method === "write" ? true : method === "flushHeaders" ? undefined : res;
    }
    return call(method, callArgs);
  }

  async function flush(pending: Promise<CommitHeaders>) {
    let headers: CommitHeaders;
    try {
      headers = await pending;
    } catch (error) {
      mode = "pass";
      queue.length = 0;
      if (!res.headersSent) for (const name of res.getHeaderNames()) res.removeHeader(name);
      onError(error);
      return;
    }
    mode = "pass";
    try {
      if (!res.headersSent) {
        for (const entry of queue) if (entry[0] === "writeHead") entry[1] = absorbWriteHeadHeaders(res, entry[1]);
        applyNodeHeaders(res as HeaderTarget, headers);
      }
      for (const [method, args] of queue.splice(0)) call(method, args);
    } catch (error) {
      // What would have thrown into the app's own code (an invalid header, a second response
      // after the first) now happens here: hand it to the framework rather than crash.
      queue.length = 0;
      onError(error);
    }
  }

  const wrap =
    (method: Method) =>
    (...args: unknown[]) => {
      if (mode === "pass") return call(method, args);
      if (mode === "idle") {
        let next: CommitHeaders | Promise<CommitHeaders>;
        try {
          next = beforeHeaders();
        } catch (error) {
          next = Promise.reject(error);
        }
        if (!(next instanceof Promise)) return passNow(method, args, next);
        mode = "queue";
        void flush(next);
      }
      queue.push([method, args]);
      return method === "write" ? true : method === "flushHeaders" ? undefined : res;
    };
  // Named stores, not res[method] in a loop: a computed-key store on a response object is a
  // slow generic path, and this runs on every request.
  const target = res as unknown as Record<Method, unknown>;
  target.writeHead = wrap("writeHead");
  target.write = wrap("write");
  target.end = wrap("end");
  target.flushHeaders = wrap("flushHeaders");
}

/**
 * `writeHead(status, headers)` would overwrite the session's Set-Cookie and Cache-Control.
 * Moves its headers onto the response first (so the merge sees them), keeps status and message.
 */
function absorbWriteHeadHeaders(res: ServerResponse, args: unknown[]): unknown[] {
  const [status, second, third] = args;
  const message = typeof second === "string" ? second : undefined;
  const headers = typeof second === "string" ? third : second;
  if (Array.isArray(headers)) {
    // Raw form: [name, value, name, value, ...] or [[name, value], ...].
    const pairs: Array<[unknown, unknown]> = Array.isArray(headers[0])
      ? (headers as Array<[unknown, unknown]>)
      : Array.from({ length: Math.floor(headers.length / 2) }, (_, i) => [headers[2 * i], headers[2 * i + 1]]);
    for (const [name, value] of pairs) addHeader(res, String(name), value);
  } else if (headers && typeof headers === "object") {
    for (const [name, value] of Object.entries(headers)) addHeader(res, name, value);
  }
  return message === undefined ? [status] : [status, message];
}

function addHeader(res: ServerResponse, name: string, value: unknown) {
  if (value === undefined) return;
  const values = Array.isArray(value) ? value.map(String) : [String(value)];
  if (name.toLowerCase() === "set-cookie") {
    const existing = res.getHeader("set-cookie");
    const before = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
    res.setHeader("set-cookie", [...before, ...values]);
  } else res.setHeader(name, values.length === 1 ? (values[0] as string) : values);
}
