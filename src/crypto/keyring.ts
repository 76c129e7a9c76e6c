import { createHash, hkdfSync } from "node:crypto";
import { SessionConfigError } from "../contract/errors.js";

/** A secret as given in `secrets`: a string (UTF-8) or raw bytes. At least 32 bytes. */
export type Secret = string | Uint8Array;

/** Keys derived from one secret, one per purpose, so no key ever serves two jobs. */
export interface DerivedKeys {
  /** 4-byte identifier stored with encrypted data, so decryption picks the right key. */
  readonly id: number;
  /** HMAC-SHA256 key that signs tokens in cookies and headers. */
  readonly signing: Buffer;
  /** AES-256-GCM key for session data at rest. */
  readonly data: Buffer;
  /** AES-256-GCM key for the `cookieKeys` payload carried in the cookie. */
  readonly cookie: Buffer;
  /** HMAC-SHA256 key for CSRF tokens. */
  readonly csrf: Buffer;
}

/** The keys of every secret; `current` (the first secret) signs and encrypts. */
export interface Keyring {
  readonly current: DerivedKeys;
  /** All keys, current first: each still verifies and decrypts (rotation). */
  readonly all: readonly DerivedKeys[];
  /** The keys with this id (usually one; several only on a 1-in-4-billion id collision). */
  byId(id: number): readonly DerivedKeys[];
}

export const MIN_SECRET_BYTES = 32;
// A fixed, public salt: HKDF's extract step needs one, and secrets are already high-entropy.
const SALT = Buffer.from("sessionkit/v1");

/** HKDF-SHA256 (RFC 5869). Exposed for the test vectors. */
export function deriveKey(ikm: Uint8Array, salt: Uint8Array, info: string | Uint8Array, length = 32): Buffer {
  return Buffer.from(hkdfSync("sha256", ikm, salt, info, length));
}

function deriveAll(secret: Uint8Array): DerivedKeys {
  const key = (purpose: string) => deriveKey(secret, SALT, `sessionkit/v1/${purpose}`);
  return Object.freeze({
    id: key("key-id").readUInt32BE(0),
    signing: key("token-signing"),
    data: key("data-encryption"),
    cookie: key("cookie-encryption"),
    csrf: key("csrf"),
  });
}

/** Builds the keyring; refuses an empty list and short or duplicate secrets. */
export function createKeyring(secrets: readonly Secret[]): Keyring {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new SessionConfigError(
      "secrets must be a non-empty array, e.g. secrets: [process.env.SESSION_SECRET]. Generate one with: node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"",
    );
  }
  const seen = new Set<string>();
  const all = secrets.map((secret, index) => {
    const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret ?? []);
    if (typeof secret !== "string" && !(secret instanceof Uint8Array)) {
      throw new SessionConfigError(`secrets[${index}] must be a string or Uint8Array (is it an unset environment variable?)`);
    }
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new SessionConfigError(
        `secrets[${index}] is ${bytes.length} bytes; at least ${MIN_SECRET_BYTES} are needed. Generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`,
      );
    }
    const fingerprint = createHash("sha256").update(bytes).digest("hex");
    if (seen.has(fingerprint)) throw new SessionConfigError(`secrets[${index}] repeats an earlier secret; list each secret once`);
    seen.add(fingerprint);
    return deriveAll(bytes);
  });
  const current = all[0] as DerivedKeys;
  // Decryption looks keys up by id on every request: index them once.
  const byId = new Map<number, DerivedKeys[]>();
  for (const keys of all) byId.set(keys.id, [...(byId.get(keys.id) ?? []), keys]);
  const none: readonly DerivedKeys[] = Object.freeze([]);
  return Object.freeze({
    current,
    all: Object.freeze(all),
    byId: (id: number) => byId.get(id) ?? none,
  });
}
