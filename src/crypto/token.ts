import crypto, { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Keyring } from "./keyring.js";

/** A source of random bytes; injectable so tests can be deterministic. */
export type RandomSource = (size: number) => Uint8Array;

const POOL_BYTES = 4096;
let pool = randomBytes(0);
let poolOffset = 0;

/**
 * `crypto.randomBytes`, drawn from a 4 KiB block at a time (as Node's own `randomUUID` caches
 * its entropy): one system call for hundreds of ids, secrets and IVs instead of one each.
 * A block is never refilled in place, so every slice handed out stays as it was.
 */
export const defaultRandom: RandomSource = (size) => {
  if (size > 256) return randomBytes(size);
  if (poolOffset + size > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + size);
  poolOffset += size;
  return out;
};

/** The two halves of a token: the row id (stable) and the secret (replaced on rotation). */
export interface TokenParts {
  readonly id: string;
  readonly secret: string;
}

const ID_BYTES = 16;
const SECRET_BYTES = 32;
/** A row id: 16 bytes as lowercase hex, the one spelling the store and `revoke()` accept. */
export const ID_PATTERN = /^[0-9a-f]{32}$/;
/**
 * base64url of 32 bytes, no padding, canonical: 43 chars carry 258 bits, so the last char's two
 * low bits must be zero (only A E I M Q U Y c g k o s w 0 4 8). Other spellings decode to the
 * same bytes; refusing them keeps one token, one spelling.
 */
const B64_32 = "[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]";
/** `id.secret.signature`: nothing before, between or after (no percent-encoding, no extra dots). */
const SIGNED = new RegExp(`^([0-9a-f]{32})\\.(${B64_32})\\.(${B64_32})$`);

// One-shot hashing (Node 20.12+) skips the Hash object; older 20.x falls back to it.
const sha256Hex: (data: string) => string =
  typeof (crypto as { hash?: unknown }).hash === "function"
    ? (data) => (crypto as unknown as { hash(alg: string, data: string, enc: "hex"): string }).hash("sha256", data, "hex")
    : (data) => createHash("sha256").update(data, "utf8").digest("hex");

function randomOf(random: RandomSource, size: number): Buffer {
  const bytes = random(size);
  if (bytes.length !== size) throw new TypeError("[sessionkit] the random source returned the wrong number of bytes");
  return Buffer.from(bytes);
}

/** A fresh row id: 16 random bytes (128 bits: ids never collide in practice), hex. */
export function generateId(random: RandomSource = defaultRandom): string {
  return randomOf(random, ID_BYTES).toString("hex");
}

/** A fresh secret: 32 random bytes, base64url. */
export function generateSecret(random: RandomSource = defaultRandom): string {
  return randomOf(random, SECRET_BYTES).toString("base64url");
}

/**
 * What the store keeps of a secret: its SHA-256, hex. A leaked table yields no usable token,
 * and since rows are fetched by id and the hash is compared afterwards in constant time, the
 * lookup is no timing oracle on the secret.
 */
export function hashSecret(secret: string): string {
  return sha256Hex(secret);
}

/** Constant-time comparison of two hex SHA-256 digests (false for anything else). */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length !== 64 || b.length !== 64) return false;
  return timingSafeEqual(Buffer.from(a, "latin1"), Buffer.from(b, "latin1"));
}

export function hmacSha256(key: Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** `id.secret.signature`, the value a cookie or header carries. */
export function signToken(token: TokenParts, keyring: Keyring): string {
  const body = `${token.id}.${token.secret}`;
  return `${body}.${hmacSha256(keyring.current.signing, body).toString("base64url")}`;
}

/**
 * Returns the token if `value` is `id.secret.signature` signed by any key in the ring, else
 * null. The shape is checked first, so garbage never reaches the store or the HMAC; every key
 * is compared in constant time (no early exit that would tell which key matched).
 */
export function verifySignedToken(value: string, keyring: Keyring): TokenParts | null {
  const match = SIGNED.exec(value);
  if (!match) return null;
  const id = match[1] as string;
  const secret = match[2] as string;
  const body = `${id}.${secret}`;
  const given = Buffer.from(match[3] as string, "base64url");
  let ok = false;
  for (const keys of keyring.all) {
    ok = timingSafeEqual(given, hmacSha256(keys.signing, body)) || ok;
  }
  return ok ? { id, secret } : null;
}

/** Constant-time string equality that does not leak where the strings differ. */
export function safeEqual(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so timingSafeEqual never throws and length is not leaked.
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
