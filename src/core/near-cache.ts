import { timingSafeEqual } from "node:crypto";
import type { InvalidationChannel, InvalidationListener } from "../contract/store.js";
import { jsonSerializer } from "../serializers/json.js";
import type { Serializer } from "../serializers/serializer.js";
import { structuredSerializer } from "../serializers/structured.js";
import type { LoadedRow } from "./session.js";

/** What `createSessions({ cache })` takes. */
export interface CacheSettings {
  /** Most sessions kept (least recently used dropped first); 0 = keep none, only publish invalidations. */
  readonly maxEntries: number;
  /** Longest time an entry is trusted without reading the store again, in ms. */
  readonly ttl: number;
}

/**
 * One verified token and its decoded row. `raw` is the exact transported value that was
 * verified (signature, secret hash, cookie payload): a request carrying the same characters
 * proves what the full check proved, so it is compared in constant time instead of checked
 * again. `data` is never handed out: every hit gets its own copy.
 */
export interface CacheEntry {
  readonly id: string;
  readonly raw: Buffer;
  readonly kind: string;
  readonly secret: string;
  readonly base: LoadedRow;
  readonly data: Record<string, unknown>;
  readonly cookiePayload: string | null;
  readonly storedAt: number;
}

/** A deep copy of what JSON.parse makes (plain objects, arrays, primitives). */
function cloneJson(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i]);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (key === "__proto__") continue; // the parser already dropped it; never assign it
    out[key] = cloneJson((value as Record<string, unknown>)[key]);
  }
  return out;
}

/** How to give a request its own copy of cached data, per serializer. */
function copierFor(serializer: Serializer): (data: Record<string, unknown>, bytes: Uint8Array) => Record<string, unknown> {
  if (serializer === jsonSerializer) return (data) => cloneJson(data) as Record<string, unknown>;
  if (serializer === structuredSerializer) return (data) => structuredClone(data);
  // A custom serializer may make values we cannot copy faithfully: decode again (still no
  // store read, no HMAC, no decrypt).
  return (_data, bytes) => serializer.decode(bytes);
}

/** Ids remembered as "invalidated after ticket t" before the oldest are forgotten wholesale. */
const MAX_TOMBSTONES = 10_000;
/** Session ids are 32 characters; `@` follows one in a versioned message. */
const ID_LENGTH = 32;
const AT = 64;
const versioned = (token: string) => token.length > ID_LENGTH && token.charCodeAt(ID_LENGTH) === AT;

/**
 * What was heard of one id, as ticket numbers: the last invalidation that named no version
 * (`any`: changed in an unknown way, or gone), the highest version named (`top`) with the last
 * ticket it was heard at, and the last ticket of a message naming a lower one. Versions only
 * grow, so a message naming a version at most a row's own is about the past (a late echo of an
 * earlier write, delivered out of order) and cannot make that row stale.
 */
interface Tombstone {
  any: number;
  top: number;
  topSeq: number;
  belowSeq: number;
}

/** Whether anything heard after `ticket` may have made a row of `version` stale. */
function killedSince(tomb: Tombstone, version: number, ticket: number): boolean {
  if (tomb.any > ticket) return true;
  if (tomb.top <= version) return false;
  // A newer version was named: since the ticket? (Below the top, the versions are not kept:
  // a message among them since the ticket counts, as it may have named one above `version`.)
  return tomb.topSeq > ticket || tomb.belowSeq > ticket;
}

/** What a cache entry is made of. */
export interface EntryFields {
  id: string;
  raw: string;
  kind: string;
  secret: string;
  base: LoadedRow;
  data: Record<string, unknown>;
}

/**
 * The near-cache of one `createSessions` instance: verified tokens and decoded rows keyed by
 * session id (and version, inside the entry), kept correct by the store's invalidation channel.
 *
 * - Trusted only while the channel is up; every up/down change empties it.
 * - A load that started before an invalidation of its id (or before the cache emptied) never
 *   inserts what it read: `ticket()` before the store read, `offer(ticket, ...)` after.
 * - Entries older than `ttl` are misses, so a channel that fails silently costs at most `ttl`.
 */
export class NearCache implements InvalidationListener {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #tombstones = new Map<string, Tombstone>();
  readonly #settings: CacheSettings;
  readonly #clock: () => number;
  readonly #copy: (data: Record<string, unknown>, bytes: Uint8Array) => Record<string, unknown>;
  readonly channel: InvalidationChannel;
  #up = false;
  #seq = 0;
  /** Loads whose ticket is below this started before the cache last emptied. */
  #floor = 0;
  #unsubscribe: (() => Promise<void>) | null = null;

  constructor(settings: CacheSettings, channel: InvalidationChannel, serializer: Serializer, clock: () => number) {
    this.#settings = settings;
    this.channel = channel;
    this.#clock = clock;
    this.#copy = copierFor(serializer);
  }

  /** Subscribes to the channel; until it reports up, every lookup misses. */
  start(): void {
    this.#unsubscribe ??= this.channel.subscribe(this);
  }

  async stop(): Promise<void> {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = null;
    this.state(false);
    await unsubscribe?.();
  }

  get up(): boolean {
    return this.#up;
  }

  /** Nothing can be cached now (channel down, or `maxEntries: 0`): no point preparing an entry. */
  get empty(): boolean {
    return !this.#up || this.#settings.maxEntries === 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether every publish reaches this process before it returns (no event-loop wait needed). */
  get synchronous(): boolean {
    return this.channel.synchronous === true;
  }

  /** The entry for this exact transported value, if it is cached, fresh and the channel is up. */
  lookup(raw: string, kind: string): CacheEntry | undefined {
    if (!this.#up || raw.length < 33 || raw.charCodeAt(32) !== 46 /* . */) return undefined;
    this.channel.poll?.();
    const id = raw.slice(0, 32);
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.kind !== kind) return undefined;
    const given = Buffer.from(raw, "latin1");
    if (given.length !== entry.raw.length || !timingSafeEqual(given, entry.raw)) return undefined;
    if (this.#clock() - entry.storedAt >= this.#settings.ttl) {
      this.#entries.delete(id);
      return undefined;
    }
    // Least recently used first: re-inserting moves it to the end.
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry;
  }

  /** This request's own copies of a hit: data and base can be changed freely. */
  copyOf(entry: CacheEntry): { base: LoadedRow; data: Record<string, unknown> } {
    return { base: { ...entry.base }, data: this.#copy(entry.data, entry.base.dataBytes) };
  }

  /** Taken before a store read: `offer()` refuses what was read if anything invalidated it since. */
  ticket(): number {
    return this.#seq;
  }

  /**
   * Caches a verified, decoded row read or written after `ticket`, unless an invalidation heard
   * since then may have made it stale: any change of the session except one that named this
   * version or an earlier one (its own write's message, `updateMessage`, or a late one).
   * `data` is copied (the request keeps its own) unless `owned` (the caller made it for the cache).
   *
   * After this process's own update (write-through) the ticket is taken before the write, so
   * a delete, revoke or later write of the session anywhere that reaches this cache before the
   * offer keeps it out, in whatever order the messages arrive, and one that arrives after it
   * drops the entry.
   */
  offer(ticket: number, fields: EntryFields, cookiePayload: string | null, owned = false): void {
    if (!this.#up || this.#settings.maxEntries === 0 || ticket < this.#floor) return;
    const tomb = this.#tombstones.get(fields.id);
    if (tomb !== undefined && killedSince(tomb, fields.base.version, ticket)) return;
    this.#insert(fields, owned ? fields.data : this.#copy(fields.data, fields.base.dataBytes), cookiePayload);
  }

  #insert(fields: EntryFields, data: Record<string, unknown>, cookiePayload: string | null): void {
    const entry: CacheEntry = {
      id: fields.id,
      raw: Buffer.from(fields.raw, "latin1"),
      kind: fields.kind,
      secret: fields.secret,
      base: { ...fields.base },
      data,
      cookiePayload,
      storedAt: this.#clock(),
    };
    this.#entries.delete(fields.id);
    this.#entries.set(fields.id, entry);
    while (this.#entries.size > this.#settings.maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
  }

  /** A touch of this process moved the times of the version it cached: keep the entry in step. */
  touched(id: string, version: number, lastActiveAt: number, expiresAt: number | null): void {
    const entry = this.#entries.get(id);
    if (entry === undefined || entry.base.version !== version) return;
    entry.base.lastActiveAt = lastActiveAt;
    entry.base.expiresAt = expiresAt;
  }

  /**
   * Drops the entries of these ids. A message may also name versions (`updateMessage`: the id
   * and `<id>@<version>`): the session is now at that version, so an entry of that version
   * or a later one stays (this process wrote it) and the plain id beside it drops only older ones.
   */
  invalidate(ids: readonly string[]): void {
    const seq = ++this.#seq;
    // A plain id beside its own `<id>@<version>` is part of that one message: first the versions.
    let versions: Map<string, number> | null = null;
    for (const token of ids) {
      if (!versioned(token)) continue;
      const version = Number(token.slice(ID_LENGTH + 1));
      const id = token.slice(0, ID_LENGTH);
      if (!Number.isSafeInteger(version)) this.#kill(id, null, seq);
      else {
        versions ??= new Map();
        versions.set(id, version);
      }
    }
    for (const token of ids) if (!versioned(token) && !versions?.has(token)) this.#kill(token, null, seq);
    if (versions !== null) for (const [id, version] of versions) this.#kill(id, version, seq);
    if (this.#tombstones.size > MAX_TOMBSTONES) {
      // Forget the tombstones, and with them every load in flight: none of those may insert.
      this.#tombstones.clear();
      this.#floor = seq + 1;
      this.#seq = seq + 1;
    }
  }

  /** `version`: the session is now at it (null: changed in an unknown way, or gone). */
  #kill(id: string, version: number | null, seq: number): void {
    const entry = this.#entries.get(id);
    if (entry !== undefined && (version === null || entry.base.version < version)) this.#entries.delete(id);
    let tomb = this.#tombstones.get(id);
    if (tomb === undefined) {
      tomb = { any: 0, top: 0, topSeq: 0, belowSeq: 0 };
      this.#tombstones.set(id, tomb);
    }
    if (version === null) tomb.any = seq;
    else if (version > tomb.top) {
      tomb.belowSeq = Math.max(tomb.belowSeq, tomb.topSeq);
      tomb.top = version;
      tomb.topSeq = seq;
    } else if (version === tomb.top) tomb.topSeq = seq;
    else tomb.belowSeq = seq;
  }

  invalidateAll(): void {
    this.#seq += 1;
    this.#floor = this.#seq;
    this.#entries.clear();
    this.#tombstones.clear();
  }

  state(up: boolean): void {
    this.invalidateAll();
    this.#up = up;
  }
}
