import { SessionConfigError } from "../contract/errors.js";
import { jsonSerializer } from "./json.js";
import type { Serializer, SerializerOption } from "./serializer.js";
import { structuredSerializer } from "./structured.js";

export function resolveSerializer(option: SerializerOption | undefined): Serializer {
  if (option === undefined || option === "json") return jsonSerializer;
  if (option === "structured") return structuredSerializer;
  if (option && typeof option.encode === "function" && typeof option.decode === "function") return option;
  throw new SessionConfigError(`serializer must be "json", "structured" or { encode, decode }, got ${String(option)}`);
}

/** Encodes and normalizes to bytes (Buffer.from: several times faster than TextEncoder for short strings). */
export function encodeToBytes(serializer: Serializer, data: Record<string, unknown>): Uint8Array {
  const out = serializer.encode(data);
  return typeof out === "string" ? Buffer.from(out, "utf8") : out;
}
