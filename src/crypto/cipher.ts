import { createCipheriv, createDecipheriv } from "node:crypto";
import type { RandomSource } from "./token.js";

/**
 * AES-256-GCM envelope: [format 1][key id 4][iv 12][ciphertext][tag 16].
 * The key id lets a retired-but-listed secret still decrypt; the AAD (the stored id for data
 * at rest) binds a blob to its row, so rows cannot be swapped in the database. The format byte
 * and the key id are authenticated too (prefixed to the AAD): no bit of a blob can change
 * without it being refused.
 */
const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = 1 + 4 + IV_BYTES;

/** Raw AES-256-GCM, exposed for the published test vectors. */
export function gcmEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array) {
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/** The associated data: the blob's own header (format and key id), then the caller's binding. */
function associatedData(keyId: number, aad: string): Buffer {
  const out = Buffer.allocUnsafe(5 + Buffer.byteLength(aad, "utf8"));
  out[0] = FORMAT;
  out.writeUInt32BE(keyId, 1);
  out.write(aad, 5, "utf8");
  return out;
}

export function seal(key: Uint8Array, keyId: number, plaintext: Uint8Array, aad: string, random: RandomSource): Uint8Array {
  const iv = random(IV_BYTES);
  if (iv.length !== IV_BYTES) throw new TypeError("[sessionkit] the random source returned the wrong number of bytes");
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(keyId, aad));
  // GCM is a stream mode: update() returns every ciphertext byte and final() none, so the
  // blob is assembled with one copy and no concatenation.
  const ciphertext = cipher.update(plaintext);
  cipher.final();
  const out = Buffer.allocUnsafe(HEADER + ciphertext.length + TAG_BYTES);
  out[0] = FORMAT;
  out.writeUInt32BE(keyId, 1);
  out.set(iv, 5);
  out.set(ciphertext, HEADER);
  out.set(cipher.getAuthTag(), HEADER + ciphertext.length);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The key id a sealed blob names, or null if it is not a sealed blob. */
export function sealedKeyId(blob: Uint8Array): number | null {
  if (blob.length < HEADER + TAG_BYTES || blob[0] !== FORMAT) return null;
  return Buffer.from(blob.buffer, blob.byteOffset, blob.length).readUInt32BE(1);
}

/** Decrypts with the first candidate key that authenticates; null if none does. */
export function open(blob: Uint8Array, candidates: readonly Uint8Array[], aad: string): Buffer | null {
  const keyId = sealedKeyId(blob);
  if (keyId === null) return null;
  const associated = associatedData(keyId, aad);
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  const iv = buf.subarray(5, HEADER);
  const ciphertext = buf.subarray(HEADER, buf.length - TAG_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  for (const key of candidates) {
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associated);
      decipher.setAuthTag(tag);
      const plain = decipher.update(ciphertext);
      decipher.final(); // GCM: authenticates, adds no bytes
      return plain;
    } catch {
      // wrong key or tampered blob: try the next candidate
    }
  }
  return null;
}
