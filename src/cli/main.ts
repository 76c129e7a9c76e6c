/**
 * `sessionkit`: manage sessions from a shell. Works at the store level (no secrets needed):
 * it reads and deletes rows, it never decrypts session data. The commands are in
 * `program.ts`; this file is only the process entry.
 */
import { exitQuietlyOnBrokenPipe } from "./epipe.js";
import { run } from "./program.js";

exitQuietlyOnBrokenPipe(process.stdout);
exitQuietlyOnBrokenPipe(process.stderr);

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
