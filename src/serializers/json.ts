import sjson from "secure-json-parse";
import type { Serializer } from "./serializer.js";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * JSON (the default). Parsing drops `__proto__` and `constructor.prototype` keys, so a stored
 * value can never pollute prototypes when the app later merges it into another object.
 */
export const jsonSerializer: Serializer = {
  encode: (data) => JSON.stringify(data),
  decode: (bytes) => {
    const text = decoder.decode(bytes);
    // Without these substrings no key can spell __proto__ or constructor (an escape needs "\u"),
    // so plain JSON.parse is as safe and skips secure-json-parse's scans of the whole text.
    const suspect = text.includes("proto") || text.includes("constructor") || text.includes("\\u");
    const value = suspect
      ? sjson.parse(text, undefined, { protoAction: "remove", constructorAction: "remove" })
      : JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new TypeError("session data is not a JSON object");
    }
    return value as Record<string, unknown>;
  },
};
