/**
 * fast-check arbitraries for hostile session inputs: cookie and header values a client
 * controls. Most start from a VALID token and change it a little, so the signature check and
 * the stored-secret check are reached, not only the shape check.
 */
import fc from "fast-check";

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** What a test hands the generators: valid values of one instance and values of others. */
export interface Seeds {
  /** The cookie name the server reads (e.g. "__Host-sid" or "sid"). */
  cookieName: string;
  /** Valid token values (cookie values) of live sessions of the server under test. */
  valid: readonly string[];
  /** Values validly signed by ANOTHER secret, for ids the store knows and does not know. */
  foreign: readonly string[];
  /** Values with a real id and a correct signature but a wrong secret (a leaked signing key). */
  wrongSecret: readonly string[];
}

/** One input: the raw Cookie header (or null), and other request headers. */
export interface HostileInput {
  cookie: string | null;
  headers: Record<string, string>;
  /** What the input is, for counting and for reading a counter-example. */
  kind: string;
}

const replaceAt = (s: string, at: number, by: string) => s.slice(0, at) + by + s.slice(at + 1);

/** One mutation of a token value. `rnd` values come from fast-check so that it shrinks. */
const mutation = (value: string): fc.Arbitrary<{ out: string; kind: string }> => {
  const n = value.length;
  const at = fc.nat(n - 1);
  return fc.oneof(
    fc.tuple(at, fc.nat(7)).map(([i, bit]) => ({
      out: replaceAt(value, i, String.fromCharCode(value.charCodeAt(i) ^ (1 << bit))),
      kind: "bit-flip",
    })),
    fc.tuple(at, fc.constantFrom(...B64URL.split(""))).map(([i, ch]) => ({ out: replaceAt(value, i, ch), kind: "substitute" })),
    fc.nat(n - 1).map((len) => ({ out: value.slice(0, len), kind: "truncate" })),
    fc.nat(n - 1).map((len) => ({ out: value.slice(n - len), kind: "truncate-front" })),
    fc
      .tuple(fc.nat(n), fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom(...`${B64URL}.=%"`.split("")) }))
      .map(([i, ins]) => ({ out: value.slice(0, i) + ins + value.slice(i), kind: "insert" })),
    at.map((i) => {
      const c = value[i] as string;
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      return { out: replaceAt(value, i, flipped), kind: "case-change" };
    }),
    fc.constant({ out: value.toUpperCase(), kind: "case-all" }),
    fc.nat(n - 1).map((i) => ({ out: value.slice(0, i) + value.slice(i + 1), kind: "delete-char" })),
    fc.tuple(at, at).map(([i, j]) => {
      const a = value[i] as string;
      const b = value[j] as string;
      return { out: replaceAt(replaceAt(value, i, b), j, a), kind: "swap-chars" };
    }),
    fc.constant({ out: `${value}.`, kind: "extra-dot" }),
    fc.constant({ out: `${value}.${"A".repeat(22)}`, kind: "fake-payload" }),
    fc.constant({ out: ` ${value}`, kind: "leading-space" }),
    fc.constant({ out: `${value}\t`, kind: "trailing-tab" }),
    fc.constant({ out: value.padEnd(8192, "A"), kind: "8kb-padded" }),
    fc.tuple(at, fc.string({ unit: "grapheme", minLength: 1, maxLength: 3 })).map(([i, u]) => ({
      out: value.slice(0, i) + u + value.slice(i + 1),
      kind: "unicode",
    })),
    // Percent-encode one character, then change another: the decoded value is still not the token.
    fc.tuple(at, at).map(([i, j]) => {
      const changed = replaceAt(value, j, value[j] === "A" ? "B" : "A");
      const c = changed[i] as string;
      const enc = `%${c.charCodeAt(0).toString(16).padStart(2, "0").toUpperCase()}`;
      return { out: changed.slice(0, i) + enc + changed.slice(i + 1), kind: "percent-encoded" };
    }),
    fc.constant({ out: encodeURIComponent(value).replace(/\./g, "%2E").replace(/A/g, "%41"), kind: "percent-all" }),
    fc.constant({ out: `"${value}"`, kind: "quoted" }),
  );
};

/** Segments of two tokens recombined: id of one with the secret and signature of another, etc. */
const splice = (a: string, b: string): fc.Arbitrary<{ out: string; kind: string }> => {
  const pa = a.split(".");
  const pb = b.split(".");
  return fc.constantFrom(
    { out: [pa[0], pb[1], pb[2]].join("."), kind: "splice-id" },
    { out: [pa[0], pa[1], pb[2]].join("."), kind: "splice-sig" },
    { out: [pb[0], pa[1], pa[2]].join("."), kind: "splice-secret" },
    { out: [pa[0], pa[2], pa[1]].join("."), kind: "splice-swapped" },
  );
};

const randomBytesString = fc
  .uint8Array({ maxLength: 400 })
  .map((bytes) => ({ out: Buffer.from(bytes).toString("latin1"), kind: "random-bytes" }));

const garbage = fc.oneof(
  randomBytesString,
  fc.string({ maxLength: 300 }).map((s) => ({ out: s, kind: "random-string" })),
  fc.string({ unit: "grapheme", maxLength: 100 }).map((s) => ({ out: s, kind: "random-unicode" })),
  fc
    .tuple(
      fc.stringMatching(/^[0-9a-f]{32}$/),
      fc.stringMatching(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/),
      fc.stringMatching(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/),
    )
    .map(([i, s, g]) => ({ out: `${i}.${s}.${g}`, kind: "well-shaped-random" })),
  fc.integer({ min: 8000, max: 9000 }).map((len) => ({ out: "A".repeat(len), kind: "8kb" })),
);

/** A token value: mutated valid, foreign, wrong-secret, spliced, or garbage. */
export function hostileValue(seeds: Seeds): fc.Arbitrary<{ out: string; kind: string }> {
  const valid = fc.constantFrom(...seeds.valid);
  return fc.oneof(
    { weight: 6, arbitrary: valid.chain(mutation) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds.foreign).map((out) => ({ out, kind: "other-secret" })) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds.wrongSecret).map((out) => ({ out, kind: "wrong-secret-signed" })) },
    { weight: 1, arbitrary: fc.tuple(valid, valid).chain(([a, b]) => splice(a, b)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...seeds.foreign, ...seeds.wrongSecret).chain(mutation),
    },
    { weight: 2, arbitrary: garbage },
  );
}

/**
 * A whole Cookie header (and sometimes other headers): one hostile value, or several of them
 * under the same name, the name in another case, injection attempts, or nothing but noise.
 */
export function hostileInput(seeds: Seeds): fc.Arbitrary<HostileInput> {
  const name = seeds.cookieName;
  const value = hostileValue(seeds);
  return fc.oneof(
    { weight: 8, arbitrary: value.map((v) => ({ cookie: `${name}=${v.out}`, headers: {}, kind: v.kind })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(value, value)
        .map(([a, b]) => ({ cookie: `${name}=${a.out}; other=1; ${name}=${b.out}`, headers: {}, kind: "duplicate-name" })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...seeds.valid), fc.nat(name.length - 1)).map(([v, i]) => {
        const c = name[i] as string;
        const renamed = replaceAt(name, i, c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase());
        // A valid token under a name that is not ours (the browser keeps names case-sensitive).
        return { cookie: `${renamed === name ? `${name}x` : renamed}=${v}`, headers: {}, kind: "name-case" };
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(value, fc.constantFrom("\r\nSet-Cookie: pwn=1", "\r\n\r\nHTTP/1.1 200 OK", "\nX-Injected: 1", "\u0000", "\r"))
        .map(([v, inj]) => ({ cookie: `${name}=${v.out}${inj}`, headers: {}, kind: "header-injection" })),
    },
    {
      weight: 1,
      arbitrary: value.map((v) => ({ cookie: null, headers: { authorization: `Bearer ${v.out}` }, kind: `bearer-${v.kind}` })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(value, fc.constantFrom("Bearer", "bearer", "BEARER", "Basic", "Bearer  ", "Token"))
        .map(([v, scheme]) => ({ cookie: null, headers: { authorization: `${scheme} ${v.out}` }, kind: "bearer-scheme" })),
    },
    {
      weight: 1,
      arbitrary: fc.string({ maxLength: 600 }).map((s) => ({ cookie: s, headers: {}, kind: "cookie-header-noise" })),
    },
  );
}

/** Whether a string may travel as a header value through Node's HTTP client (no CR/LF/NUL, Latin-1). */
export const headerSafe = (s: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s);
