/** Turns session data into bytes and back. Decoding untrusted-looking bytes must not execute code. */
export interface Serializer {
  encode(data: Record<string, unknown>): Uint8Array | string;
  decode(bytes: Uint8Array): Record<string, unknown>;
}

/** A built-in serializer name, or your own. */
export type SerializerOption = "json" | "structured" | Serializer;
