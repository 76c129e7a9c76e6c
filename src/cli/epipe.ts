/**
 * `sessionkit list alice | head` closes the pipe after a few lines; the next write then fails
 * with EPIPE, which Node raises as an "error" event and, unhandled, as a stack trace. A closed
 * reader means nobody wants the rest: stop quietly with exit code 0, as `cat` and `grep` do.
 */
export function exitQuietlyOnBrokenPipe(stream: NodeJS.WriteStream, exit: (code: number) => void = process.exit): void {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") {
      exit(0);
      return;
    }
    // Any other write failure (a full disk behind a redirect...) is real: report it and fail.
    try {
      process.stderr.write(`sessionkit: cannot write the output: ${error.message}\n`);
    } finally {
      exit(1);
    }
  });
}
