/** The primitives checked against published test vectors, through the wrappers we use. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { gcmEncrypt, open, seal, sealedKeyId } from "../../src/crypto/cipher.js";
import { createKeyring, deriveKey } from "../../src/crypto/keyring.js";
import {
  digestsEqual,
  generateId,
  generateSecret,
  hashSecret,
  hmacSha256,
  safeEqual,
  signToken,
  verifySignedToken,
} from "../../src/crypto/token.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("HKDF-SHA256 (RFC 5869, test case 1)", () => {
  it("derives the published OKM", () => {
    const ikm = hex("0b".repeat(22));
    const salt = hex("000102030405060708090a0b0c");
    const info = hex("f0f1f2f3f4f5f6f7f8f9");
    expect(deriveKey(ikm, salt, info, 42).toString("hex")).toBe(
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
  });
});

describe("HMAC-SHA256 (RFC 4231, test case 2)", () => {
  it("computes the published MAC", () => {
    expect(hmacSha256(Buffer.from("Jefe"), "what do ya want for nothing?").toString("hex")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });
});

describe("SHA-256 (FIPS 180-2 'abc')", () => {
  it("hashes secrets to the published digest", () => {
    expect(hashSecret("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("AES-256-GCM (GCM spec test cases 13 and 14)", () => {
  const key = Buffer.alloc(32);
  const iv = Buffer.alloc(12);
  it("test case 13: empty plaintext", () => {
    const { ciphertext, tag } = gcmEncrypt(key, iv, Buffer.alloc(0), Buffer.alloc(0));
    expect(ciphertext.length).toBe(0);
    expect(tag.toString("hex")).toBe("530f8afbc74536b9a963b4f1c4cb738b");
  });
  it("test case 14: one zero block", () => {
    const { ciphertext, tag } = gcmEncrypt(key, iv, Buffer.alloc(16), Buffer.alloc(0));
    expect(ciphertext.toString("hex")).toBe("cea7403d4d606b6e074ec5d3baf39d18");
    expect(tag.toString("hex")).toBe("d0d1c8a799996bf0265b98b5d48ab919");
  });
});

describe("our envelope over the primitives", () => {
  const zeros = (n: number) => new Uint8Array(n);
  const keyring = createKeyring(["k".repeat(32), "o".repeat(32)]);

  it("seal is deterministic under an injected random source and opens again", () => {
    const a = seal(keyring.current.data, keyring.current.id, Buffer.from("hello"), "row-1", zeros);
    const b = seal(keyring.current.data, keyring.current.id, Buffer.from("hello"), "row-1", zeros);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(sealedKeyId(a)).toBe(keyring.current.id);
    expect(open(a, [keyring.current.data], "row-1")?.toString()).toBe("hello");
  });

  it("the AAD binds a blob to its row: another id does not open it", () => {
    const blob = seal(keyring.current.data, keyring.current.id, Buffer.from("hello"), "row-1", zeros);
    expect(open(blob, [keyring.current.data], "row-2")).toBeNull();
  });

  it("any flipped bit is rejected", () => {
    const blob = seal(keyring.current.data, keyring.current.id, Buffer.from("hello world"), "row", zeros);
    for (let i = 5; i < blob.length; i++) {
      const bad = Uint8Array.from(blob);
      bad[i] = (bad[i] as number) ^ 1;
      expect(open(bad, [keyring.current.data], "row")).toBeNull();
    }
  });

  it("keys are derived per purpose and differ per secret", () => {
    const k = keyring.current;
    const all = [k.signing, k.data, k.cookie, k.csrf].map((b) => b.toString("hex"));
    expect(new Set(all).size).toBe(4);
    expect(keyring.all[1]?.data.equals(k.data)).toBe(false);
    expect(keyring.all[1]?.id).not.toBe(k.id);
  });

  it("tokens: a 16-byte hex id and a 32-byte base64url secret, from the injected source", () => {
    const id = generateId(() => new Uint8Array(16).fill(0xab));
    const secret = generateSecret(() => new Uint8Array(32).fill(7));
    expect(id).toBe("ab".repeat(16));
    expect(secret).toBe(Buffer.alloc(32, 7).toString("base64url"));
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hashSecret(secret)).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(() => generateId(() => new Uint8Array(15))).toThrow(/wrong number of bytes/);
  });

  it("the signature covers both the id and the secret", () => {
    const token = { id: generateId(), secret: generateSecret() };
    const signed = signToken(token, keyring);
    const [, , sig] = signed.split(".") as [string, string, string];
    expect(verifySignedToken(signed, keyring)).toEqual(token);
    expect(verifySignedToken(`${generateId()}.${token.secret}.${sig}`, keyring)).toBeNull();
    expect(verifySignedToken(`${token.id}.${generateSecret()}.${sig}`, keyring)).toBeNull();
  });

  it("a signature verifies under any secret in the ring, and only then", () => {
    const token = { id: generateId(), secret: generateSecret() };
    const old = createKeyring(["o".repeat(32)]);
    expect(verifySignedToken(signToken(token, old), keyring)).toEqual(token);
    expect(verifySignedToken(signToken(token, keyring), old)).toBeNull();
    const other = createKeyring(["x".repeat(32)]);
    expect(verifySignedToken(signToken(token, other), keyring)).toBeNull();
  });

  it("one spelling per token: case, padding, percent-encoding, whitespace and extra segments are refused", () => {
    const token = { id: generateId(() => new Uint8Array(16).fill(0xab)), secret: generateSecret(() => new Uint8Array(32)) };
    const signed = signToken(token, keyring);
    const [id, secret, sig] = signed.split(".") as [string, string, string];
    const last = sig.at(-1) as string;
    // The last char of 43 base64url chars carries 2 spare bits; flip them to get an alias.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const alias = alphabet[alphabet.indexOf(last) ^ 1] as string;
    for (const variant of [
      `${id}.${secret}.${sig.slice(0, -1)}${alias}`,
      `${id.toUpperCase()}.${secret}.${sig}`,
      `${id}.${secret}.${sig}=`,
      `${id}%2E${secret}.${sig}`,
      `${id}.${secret}.${sig}.`,
      `${id}.${secret}.${sig}.x.y`,
      ` ${signed}`,
      `${signed}\n`,
      `${id}.${secret}`,
    ]) {
      expect(verifySignedToken(variant, keyring), variant).toBeNull();
    }
    expect(verifySignedToken(signed, keyring)).toEqual(token);
  });

  it("digestsEqual compares 64-char digests only", () => {
    const d = hashSecret("x");
    expect(digestsEqual(d, d)).toBe(true);
    expect(digestsEqual(d, hashSecret("y"))).toBe(false);
    expect(digestsEqual(d, d.slice(1))).toBe(false);
    expect(digestsEqual("", "")).toBe(false);
  });

  it("safeEqual compares whole strings", () => {
    expect(safeEqual("abc", "abc")).toBe(true);
    expect(safeEqual("abc", "abd")).toBe(false);
    expect(safeEqual("abc", "abcd")).toBe(false);
    expect(safeEqual("", "")).toBe(true);
  });

  it("short, empty, duplicate or non-string secrets are refused with a clear error", () => {
    expect(() => createKeyring([])).toThrow(/non-empty array/);
    expect(() => createKeyring(["short"])).toThrow(/at least 32/);
    expect(() => createKeyring(["a".repeat(32), "a".repeat(32)])).toThrow(/repeats/);
    expect(() => createKeyring([undefined as unknown as string])).toThrow(/string or Uint8Array/);
    expect(() => createKeyring([new Uint8Array(32)])).not.toThrow();
  });
});
