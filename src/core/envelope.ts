/**
 * The plaintext that gets encrypted:
 * [format 2][flags][authenticatedAt f64][idle f64][absolute f64][data].
 * Engine fields travel inside the ciphertext, so they are authenticated with the data and a
 * custom serializer only ever sees the app's own data. `flags` says which fields are set:
 * bit 0 authenticatedAt, bit 1 an idle-timeout override, bit 2 an absolute-timeout override
 * (an override of -1 means "none" for this session), bit 3 a browser-session cookie
 * (`persistent: false`). Envelopes written before bit 3 existed read as persistent.
 */
const FORMAT = 2;
const HEADER = 2 + 8 * 3;

/** Per-session timeouts set by `session.setLifetime()`; undefined = the configured default. */
export interface Lifetime {
  idle?: number | null;
  absolute?: number | null;
  /** false: the cookie carries no Max-Age/Expires (a browser-session cookie); absent = true. */
  persistent?: boolean;
}

export interface EnvelopeFields {
  authenticatedAt: number | null;
  lifetime: Lifetime | null;
}

const overrideOf = (value: number | null | undefined) => (value === undefined ? 0 : value === null ? -1 : value);
const overrideFrom = (set: boolean, raw: number) => (!set ? undefined : raw < 0 ? null : raw);

export function wrapPlaintext(fields: EnvelopeFields, data: Uint8Array): Buffer {
  const { authenticatedAt, lifetime } = fields;
  const out = Buffer.allocUnsafe(HEADER + data.length);
  const flags =
    (authenticatedAt !== null ? 1 : 0) |
    (lifetime?.idle !== undefined ? 2 : 0) |
    (lifetime?.absolute !== undefined ? 4 : 0) |
    (lifetime?.persistent === false ? 8 : 0);
  out.writeUInt8(FORMAT, 0);
  out.writeUInt8(flags, 1);
  out.writeDoubleBE(authenticatedAt ?? 0, 2);
  out.writeDoubleBE(overrideOf(lifetime?.idle), 10);
  out.writeDoubleBE(overrideOf(lifetime?.absolute), 18);
  out.set(data, HEADER);
  return out;
}

export function unwrapPlaintext(plain: Buffer): (EnvelopeFields & { data: Uint8Array }) | null {
  if (plain.length < HEADER || plain[0] !== FORMAT) return null;
  const flags = plain[1] as number;
  const idle = overrideFrom((flags & 2) !== 0, plain.readDoubleBE(10));
  const absolute = overrideFrom((flags & 4) !== 0, plain.readDoubleBE(18));
  const browserSession = (flags & 8) !== 0;
  const lifetime: Lifetime | null =
    idle === undefined && absolute === undefined && !browserSession
      ? null
      : {
          ...(idle !== undefined && { idle }),
          ...(absolute !== undefined && { absolute }),
          ...(browserSession && { persistent: false }),
        };
  return {
    authenticatedAt: (flags & 1) !== 0 ? plain.readDoubleBE(2) : null,
    lifetime,
    data: plain.subarray(HEADER),
  };
}
