import { open, seal, sealedKeyId } from "../crypto/cipher.js";
import type { DerivedKeys, Keyring } from "../crypto/keyring.js";
import { hashToken, hmacSha256, type RandomSource, signToken, verifySignedToken } from "../crypto/token.js";
import { encodeToBytes } from "../serializers/resolve.js";
import type { Serializer } from "../serializers/serializer.js";
import { unwrapPlaintext, wrapPlaintext } from "./envelope.js";

/** Everything between session state and stored or transported bytes. */
export function createCodec(keyring: Keyring, serializer: Serializer, random: RandomSource) {
  return {
    encodeData: (data: Record<string, unknown>) => encodeToBytes(serializer, data),
    decodeData: (bytes: Uint8Array) => serializer.decode(bytes),

    /** Encrypts data at rest under the current key, bound to the row id. */
    sealData(id: string, authenticatedAt: number | null, dataBytes: Uint8Array): Uint8Array {
      return seal(keyring.current.data, keyring.current.id, wrapPlaintext(authenticatedAt, dataBytes), id, random);
    },

    /** Decrypts a stored blob; null when no key in the ring opens it. */
    openData(id: string, blob: Uint8Array) {
      const keyId = sealedKeyId(blob);
      if (keyId === null) return null;
      const named = keyring.byId(keyId);
      const attempt = (keys: DerivedKeys) => {
        const plain = open(blob, [keys.data], id);
        if (!plain) return undefined;
        const inner = unwrapPlaintext(plain);
        return inner ? { ...inner, stale: keys !== keyring.current } : null;
      };
      // The named key almost always opens it; the others only on a key-id collision.
      for (const keys of named) {
        const opened = attempt(keys);
        if (opened !== undefined) return opened;
      }
      for (const keys of keyring.all) {
        if (named.includes(keys)) continue;
        const opened = attempt(keys);
        if (opened !== undefined) return opened;
      }
      return null;
    },

    /** `token.sig` or `token.sig.payload` (payload: encrypted cookieKeys values). */
    cookieValue(token: string, payload: string | null): string {
      const signed = signToken(token, keyring);
      if (payload === null) return signed;
      const sealed = seal(keyring.current.cookie, keyring.current.id, Buffer.from(payload, "utf8"), hashToken(token), random);
      return `${signed}.${Buffer.from(sealed).toString("base64url")}`;
    },

    headerValue: (token: string) => signToken(token, keyring),

    /** Splits and verifies a transported value. Never throws. */
    parseValue(value: string): { token: string | null; malformed: boolean; sealedPayload: string | null } {
      if (value.length > 8192) return { token: null, malformed: true, sealedPayload: null };
      const parts = value.split(".");
      if (parts.length !== 2 && parts.length !== 3) return { token: null, malformed: true, sealedPayload: null };
      const token = verifySignedToken(`${parts[0]}.${parts[1]}`, keyring);
      return { token, malformed: false, sealedPayload: parts[2] ?? null };
    },

    /** Decrypts a cookie payload; null when absent or not ours. */
    openPayload(id: string, sealedPayload: string | null): string | null {
      if (!sealedPayload || !/^[A-Za-z0-9_-]+$/.test(sealedPayload)) return null;
      const plain = open(
        new Uint8Array(Buffer.from(sealedPayload, "base64url")),
        keyring.all.map((k) => k.cookie),
        id,
      );
      return plain ? plain.toString("utf8") : null;
    },

    /** Stateless CSRF token: HMAC of the session id under the CSRF key. */
    csrfFor: (id: string) => hmacSha256(keyring.current.csrf, id).toString("base64url"),
    csrfCandidates: (id: string) => keyring.all.map((k) => hmacSha256(k.csrf, id).toString("base64url")),
  };
}

export type Codec = ReturnType<typeof createCodec>;
