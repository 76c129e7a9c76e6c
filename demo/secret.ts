import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

/** Where the secret came from, for the start-up message. */
export interface LoadedSecret {
  secret: string;
  created: boolean;
}

/**
 * Reads the secret kept in `path`, or generates one there on first start (32 random bytes,
 * base64url, file mode 0600). Reusing it keeps sessions valid across restarts; deleting the
 * file signs everyone out.
 */
export function loadOrCreateSecret(path: string): LoadedSecret {
  const fresh = randomBytes(32).toString("base64url");
  try {
    // "wx": never overwrite a secret another process wrote a moment ago.
    writeFileSync(path, `${fresh}\n`, { flag: "wx", mode: 0o600 });
    return { secret: fresh, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const secret = readFileSync(path, "utf8").trim();
  if (Buffer.byteLength(secret) < 32) {
    throw new Error(`[sessionkit] [demo] the secret in ${path} is shorter than 32 bytes; delete the file to generate a new one`);
  }
  return { secret, created: false };
}
