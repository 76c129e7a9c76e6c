/**
 * The plaintext that gets encrypted: [format 1][authenticatedAt float64 BE, NaN = null][data].
 * Keeping engine fields out of the serialized data means a custom serializer only ever sees
 * the app's own data.
 */
const FORMAT = 1;
const HEADER = 9;

export function wrapPlaintext(authenticatedAt: number | null, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + data.length);
  out.writeUInt8(FORMAT, 0);
  out.writeDoubleBE(authenticatedAt ?? Number.NaN, 1);
  out.set(data, HEADER);
  return out;
}

export function unwrapPlaintext(plain: Buffer): { authenticatedAt: number | null; data: Uint8Array } | null {
  if (plain.length < HEADER || plain[0] !== FORMAT) return null;
  const at = plain.readDoubleBE(1);
  return { authenticatedAt: Number.isNaN(at) ? null : at, data: plain.subarray(HEADER) };
}
