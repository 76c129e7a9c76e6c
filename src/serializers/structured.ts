import { deserialize, serialize } from "node:v8";
import type { Serializer } from "./serializer.js";

/**
 * node:v8 structured clone: Date, Map, Set, BigInt, RegExp, typed arrays, cyclic values.
 * Class instances come back as plain objects and functions cannot be stored (v8 throws).
 * Only the server ever writes these bytes (they are encrypted and authenticated), so
 * deserializing them is safe.
 */
export const structuredSerializer: Serializer = {
  encode: (data) => serialize(data),
  decode: (bytes) => {
    const value = deserialize(bytes);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new TypeError("session data is not an object");
    }
    return value as Record<string, unknown>;
  },
};
