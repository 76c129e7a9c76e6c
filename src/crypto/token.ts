import crypto, { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Keyring } from "./keyring.js";

/** A source of random bytes; injectable so tests can be deterministic. */
export type RandomSource = (size: number) => Uint8Array;

export const defaultRandom: RandomSource = (size) => randomBytes(size);

const TOKEN_BYTES = 32;
/**
 * base64url of 32 bytes, no padding, canonical: 43 chars carry 258 bits, so the last char's two
 * low bits must be zero (only A E I M Q U Y c g k o s w 0 4 8). Other spellings decode to the
 * same bytes; refusing them keeps one token, one spelling.
 */
const B64_32 = "[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]";
const SIGNED = new RegExp(`^(${B64_32})\\.(${B64_32})$`);

// One-shot hashing (Node 20.12+) skips the Hash object; older 20.x falls back to it.
const sha256Hex: (data: string) => string =
  typeof (crypto as { hash?: unknown }).hash === "function"
    ? (data) => (crypto as unknown as { hash(alg: string, data: string, enc: "hex"): string }).hash("sha256", data, "hex")
    : (data) => createHash("sha256").update(data, "utf8").digest("hex");

/** A fresh session token: 32 random bytes, base64url. */
export function generateToken(random: RandomSource = defaultRandom): string {
  const bytes = random(TOKEN_BYTES);
  if (bytes.length !== TOKEN_BYTES) throw new TypeError("[sessionkit] the random source returned the wrong number of bytes");
  return Buffer.from(bytes).toString("base64url");
}

/**
 * The stored id: SHA-256 of the token, hex. A leaked table yields no usable token, and a
 * lookup by hash is no timing oracle on the token itself.
 */
export function hashToken(token: string): string {
  return sha256Hex(token);
}

export function hmacSha256(key: Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** `token.signature`, the value a cookie or header carries. */
export function signToken(token: string, keyring: Keyring): string {
  return `${token}.${hmacSha256(keyring.current.signing, token).toString("base64url")}`;
}

/**
 * Returns the token if `value` is `token.signature` signed by any key in the ring, else null.
 * The shape is checked first, so garbage never reaches the store or the HMAC; every key is
 * compared in constant time (no early exit that would tell which key matched).
 */
export function verifySignedToken(value: string, keyring: Keyring): string | null {
  const match = SIGNED.exec(value);
  if (!match) return null;
  const token = match[1] as string;
  const given = Buffer.from(match[2] as string, "base64url");
  let ok = false;
  for (const keys of keyring.all) {
    ok = timingSafeEqual(given, hmacSha256(keys.signing, token)) || ok;
  }
  return ok ? token : null;
}

/** Constant-time string equality that does not leak where the strings differ. */
export function safeEqual(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so timingSafeEqual never throws and length is not leaked.
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
