import { open, seal, sealedKeyId } from "../crypto/cipher.js";
import type { DerivedKeys, Keyring } from "../crypto/keyring.js";
import { hmacSha256, type RandomSource, signToken, type TokenParts, verifySignedToken } from "../crypto/token.js";
import { encodeToBytes } from "../serializers/resolve.js";
import type { Serializer } from "../serializers/serializer.js";
import { type EnvelopeFields, unwrapPlaintext, wrapPlaintext } from "./envelope.js";

/**
 * The row fields the ciphertext is bound to (its AEAD associated data). A blob moved to
 * another row, a user id changed in the table, a secret hash replaced by someone who wants a
 * token of their own for the row, or a creation time pushed forward to dodge the absolute
 * timeout: each fails authentication and the row is refused as undecodable.
 * (last_active_at and expires_at are not bound: a touch writes them without the data.)
 */
export interface RowBinding {
  id: string;
  secretHash: string;
  userId: string | null;
  createdAt: number;
}

const HEX = /^[0-9a-f]*$/;
/**
 * Exactly `JSON.stringify(["sessionkit/v2", id, secretHash, userId, createdAt])`, built by hand
 * for the usual case (hex id and hash, integer time): it runs on every load and write.
 */
const bindingOf = (row: RowBinding) =>
  HEX.test(row.id) && HEX.test(row.secretHash) && Number.isSafeInteger(row.createdAt)
    ? `["sessionkit/v2","${row.id}","${row.secretHash}",${row.userId === null ? "null" : JSON.stringify(row.userId)},${row.createdAt}]`
    : JSON.stringify(["sessionkit/v2", row.id, row.secretHash, row.userId, row.createdAt]);

/** What the cookie payload (cookieKeys) is bound to: this token, id and secret. */
const payloadBinding = (id: string, secretHash: string) => `sessionkit/v2/payload:${id}:${secretHash}`;

/** Parsed transported value. */
export type ParsedValue =
  | { ok: true; token: TokenParts; sealedPayload: string | null }
  | { ok: false; reason: "malformed" | "bad-signature" };

const TOKEN_SHAPE = /^[0-9a-f]{32}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/;
const PAYLOAD_SHAPE = /^[A-Za-z0-9_-]+$/;

/** Opens a data blob with one key: undefined when the key does not open it, null when the plaintext is no envelope. */
function openWith(blob: Uint8Array, keys: DerivedKeys, aad: string, current: DerivedKeys) {
  const plain = open(blob, [keys.data], aad);
  if (!plain) return undefined;
  const inner = unwrapPlaintext(plain);
  if (!inner) return null;
  return { authenticatedAt: inner.authenticatedAt, lifetime: inner.lifetime, data: inner.data, stale: keys !== current };
}

/** Everything between session state and stored or transported bytes. */
export function createCodec(keyring: Keyring, serializer: Serializer, random: RandomSource) {
  return {
    encodeData: (data: Record<string, unknown>) => encodeToBytes(serializer, data),
    decodeData: (bytes: Uint8Array) => serializer.decode(bytes),

    /** Encrypts data at rest under the current key, bound to the row (see RowBinding). */
    sealData(row: RowBinding, fields: EnvelopeFields, dataBytes: Uint8Array): Uint8Array {
      return seal(keyring.current.data, keyring.current.id, wrapPlaintext(fields, dataBytes), bindingOf(row), random);
    },

    /** Decrypts a stored blob; null when no key in the ring opens it for this row. */
    openData(row: RowBinding, blob: Uint8Array) {
      const keyId = sealedKeyId(blob);
      if (keyId === null) return null;
      const aad = bindingOf(row);
      const named = keyring.byId(keyId);
      // The named key almost always opens it; the others only on a key-id collision.
      for (const keys of named) {
        const opened = openWith(blob, keys, aad, keyring.current);
        if (opened !== undefined) return opened;
      }
      for (const keys of keyring.all) {
        if (named.includes(keys)) continue;
        const opened = openWith(blob, keys, aad, keyring.current);
        if (opened !== undefined) return opened;
      }
      return null;
    },

    /** `id.secret.sig` or `id.secret.sig.payload` (payload: encrypted cookieKeys values). */
    cookieValue(token: TokenParts, secretHash: string, payload: string | null): string {
      const signed = signToken(token, keyring);
      if (payload === null) return signed;
      const sealed = seal(
        keyring.current.cookie,
        keyring.current.id,
        Buffer.from(payload, "utf8"),
        payloadBinding(token.id, secretHash),
        random,
      );
      return `${signed}.${Buffer.from(sealed).toString("base64url")}`;
    },

    headerValue: (token: TokenParts) => signToken(token, keyring),

    /**
     * Splits and verifies a transported value. Never throws. One spelling only: the exact
     * characters the server issued (no percent-encoding, no extra segments, no whitespace).
     */
    parseValue(value: string): ParsedValue {
      if (value.length > 8192) return { ok: false, reason: "malformed" };
      const dots = value.split(".");
      if (dots.length !== 3 && dots.length !== 4) return { ok: false, reason: "malformed" };
      const head = dots.length === 4 ? value.slice(0, value.lastIndexOf(".")) : value;
      const sealedPayload = dots.length === 4 ? (dots[3] as string) : null;
      if (!TOKEN_SHAPE.test(head) || (sealedPayload !== null && !PAYLOAD_SHAPE.test(sealedPayload))) {
        return { ok: false, reason: "malformed" };
      }
      const token = verifySignedToken(head, keyring);
      return token ? { ok: true, token, sealedPayload } : { ok: false, reason: "bad-signature" };
    },

    /** Decrypts a cookie payload; null when absent or not made for this token. */
    openPayload(id: string, secretHash: string, sealedPayload: string | null): string | null {
      if (!sealedPayload) return null;
      const plain = open(
        new Uint8Array(Buffer.from(sealedPayload, "base64url")),
        keyring.all.map((k) => k.cookie),
        payloadBinding(id, secretHash),
      );
      return plain ? plain.toString("utf8") : null;
    },

    /**
     * Stateless CSRF token: HMAC of the row id and the current secret's hash under the CSRF key.
     * Bound to the secret, so it changes at login (and rotation) although the id stays.
     */
    csrfFor: (id: string, secretHash: string) => hmacSha256(keyring.current.csrf, `${id}.${secretHash}`).toString("base64url"),
    csrfCandidates: (id: string, secretHash: string) =>
      keyring.all.map((k) => hmacSha256(k.csrf, `${id}.${secretHash}`).toString("base64url")),
  };
}

export type Codec = ReturnType<typeof createCodec>;
