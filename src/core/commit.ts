import { performance } from "node:perf_hooks";
import { SessionConflictError, SessionDataTooLargeError, SessionStateError } from "../contract/errors.js";
import { type StoredSession, updateMessage } from "../contract/store.js";
import { hashSecret } from "../crypto/token.js";
import { type CommitHeaders, clearingHeaders, plainHeaders, tokenHeaders } from "../http/response-headers.js";
import type { Engine } from "./engine.js";
import type { Lifetime } from "./envelope.js";
import { expiresAt, touchDue } from "./expiry.js";
import { notify } from "./instrumentation.js";
import { limitAround } from "./limit.js";
import { expiredNow, freshState, loadedRowOf, type OpenedRow, openRow } from "./load.js";
import { mergeData, mergeField } from "./merge.js";
import { type CommitFacts, planCommit, planConflict, type TokenAction } from "./plan.js";
import { samePlainData } from "./same-data.js";
import { type LoadedRow, Session, type SessionState, STATE } from "./session.js";

/** A hard stop besides the time budget, in case a clock does not move. */
const MAX_ATTEMPTS = 1000;
const BACKOFF_CAP_MS = 50;

const bytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
const lifetimeEqual = (a: Lifetime | null, b: Lifetime | null) =>
  a === b ||
  (a !== null &&
    b !== null &&
    a.idle === b.idle &&
    a.absolute === b.absolute &&
    (a.persistent ?? true) === (b.persistent ?? true));
/** `update()`'s options when the write carries its own invalidation (one object, not one per write). */
const PUBLISH = { publish: true } as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Commits of one session inside one process run one after another in its lane; the lane also
 * remembers the row its last commit wrote, so the next one merges onto it without a read and
 * never conflicts. Lanes exist only while commits are waiting.
 */
interface Lane {
  tail: Promise<unknown>;
  pending: number;
  latest: OpenedRow | null;
}

/** Runs commit plans against the store. */
export function createCommitter(engine: Engine) {
  const { config, store, codec, events, vary } = engine;
  const lanes = new Map<string, Lane>();

  function inLane<T>(id: string, run: (lane: Lane) => Promise<T>): Promise<T> {
    let lane = lanes.get(id);
    if (!lane) {
      lane = { tail: Promise.resolve(), pending: 0, latest: null };
      lanes.set(id, lane);
    }
    const current = lane;
    current.pending++;
    const result = current.tail.then(() => run(current));
    current.tail = result.then(
      () => release(id, current),
      () => release(id, current),
    );
    return result;
  }

  function release(id: string, lane: Lane) {
    if (--lane.pending === 0 && lanes.get(id) === lane) lanes.delete(id);
  }

  function encodeChecked(st: SessionState): Uint8Array {
    const bytes = codec.encodeData(st.data);
    if (bytes.length > config.maxDataBytes) throw new SessionDataTooLargeError(bytes.length, config.maxDataBytes);
    return bytes;
  }

  /**
   * The bytes of the session's data: the loaded ones while provably unchanged (nothing could
   * have changed it, or it still equals the near-cache's pristine copy), else serialized anew.
   */
  function dataBytesOf(st: SessionState): Uint8Array {
    const base = st.base as LoadedRow;
    if (!st.maybeDirty || (st.pristine !== null && samePlainData(st.data, st.pristine))) return base.dataBytes;
    return encodeChecked(st);
  }

  /** The token value for the session's transport (cookie with its payload, or header). */
  function tokenValue(st: SessionState, secretHash: string): string {
    const token = { id: st.id as string, secret: st.secret as string };
    return st.transport.kind === "cookie"
      ? codec.cookieValue(token, secretHash, engine.cookiePayloadOf(st.data))
      : codec.headerValue(token);
  }

  /** `value`: the token to send, when the action is "set" (computed once: a cookie payload is sealed afresh each time). */
  function headersFor(
    st: SessionState,
    action: TokenAction,
    value: string | null,
    expiry: number | null,
    now: number,
  ): CommitHeaders {
    if (action === "set") {
      // A browser-session cookie (setLifetime({ persistent: false })) carries no expiry; the row keeps its own.
      const cookieExpiry = st.lifetime?.persistent === false ? null : expiry;
      return tokenHeaders(vary, st.transport, value as string, cookieExpiry, now);
    }
    if (action === "clear") return clearingHeaders(vary, st.transport);
    return plainHeaders(vary);
  }

  /** Marks the state as matching what is now stored. */
  function rebase(st: SessionState, row: StoredSession, dataBytes: Uint8Array): LoadedRow {
    st.base = loadedRowOf(row, dataBytes, st.authenticatedAt, st.lifetime);
    st.pristine = null;
    st.rotated = null;
    st.keyStale = false;
    st.cookiePayload = engine.cookiePayloadOf(st.data);
    return st.base;
  }

  /** The session is gone: its changes are dropped, its cookie cleared, and it goes on as new. */
  function interrupt(st: SessionState, reason: "gone" | "undecodable"): CommitHeaders {
    events.emit("interrupted", { id: st.id as string, userId: st.base?.userId ?? null, reason });
    const headers = clearingHeaders(vary, st.transport);
    Object.assign(st, freshState(st.transport, false, st.ip, st.userAgent), { interrupted: true });
    return headers;
  }

  /** Another request signed in first: drop this request's changes, leave the cookie alone. */
  function supersede(st: SessionState, hadChanges: boolean): CommitHeaders {
    if (hadChanges) events.emit("interrupted", { id: st.id as string, userId: st.base?.userId ?? null, reason: "superseded" });
    Object.assign(st, freshState(st.transport, false, st.ip, st.userAgent), { interrupted: hadChanges });
    return plainHeaders(vary);
  }

  /** Re-applies this request's own changes onto the latest row. */
  function mergeOnto(st: SessionState, theirs: OpenedRow, keepTheirSecret: boolean) {
    const base = st.base as LoadedRow;
    const baseData = codec.decodeData(base.dataBytes);
    const same = (a: unknown, b: unknown) => bytesEqual(codec.encodeData({ v: a }), codec.encodeData({ v: b }));
    st.data = mergeData(baseData, st.data, theirs.data, same);
    st.userId = mergeField(base.userId, st.userId, theirs.base.userId);
    st.authenticatedAt = mergeField(base.authenticatedAt, st.authenticatedAt, theirs.base.authenticatedAt);
    st.meta = mergeField(base.meta, st.meta, theirs.base.meta);
    st.lifetime = mergeField(base.lifetime, st.lifetime, theirs.base.lifetime, lifetimeEqual);
    st.maybeDirty = true;
    st.keyStale = theirs.keyStale;
    if (keepTheirSecret) {
      // Their rotation stands (a rotate() of ours is satisfied by it); our secret is stale now.
      st.rotated = null;
      st.secret = null;
    }
    st.base = theirs.base;
    st.pristine = null;
  }

  /** Reads the row after a write did not apply. */
  async function readCurrent(st: SessionState, now: number): Promise<OpenedRow | "gone" | "undecodable"> {
    const row = await engine.call("get", () => store.get(st.id as string, now));
    if (!row) return "gone";
    const opened = openRow(engine, row);
    if (!opened) return "undecodable";
    return expiredNow(engine, opened, now) ? "gone" : opened;
  }

  /**
   * What the lane remembers of a write. The data is decoded again on each use, so that the app
   * changing its session objects in place after the commit cannot change the merge base.
   */
  function latestOf(row: StoredSession, written: LoadedRow): OpenedRow {
    return {
      row,
      base: written,
      keyStale: false,
      get data() {
        return codec.decodeData(written.dataBytes);
      },
    };
  }

  function changedFromBase(st: SessionState, dataBytes: Uint8Array): boolean {
    const base = st.base as LoadedRow;
    return (
      st.keyStale ||
      !bytesEqual(dataBytes, base.dataBytes) ||
      st.userId !== base.userId ||
      st.authenticatedAt !== base.authenticatedAt ||
      st.meta !== base.meta ||
      !lifetimeEqual(st.lifetime, base.lifetime)
    );
  }

  function storedFacts(st: SessionState, dataBytes: Uint8Array, now: number): CommitFacts {
    const base = st.base as LoadedRow;
    return {
      stored: true,
      destroyed: false,
      hadToken: st.hadToken,
      rotated: st.rotated !== null,
      changed: changedFromBase(st, dataBytes),
      holdsSomething: true,
      touchDue: touchDue(config.policy, base.lastActiveAt, now),
      payloadChanged: engine.cookiePayloadOf(st.data) !== st.cookiePayload,
      lifetimeChanged: !lifetimeEqual(st.lifetime, base.lifetime),
      secretKnown: st.secret !== null,
      transport: st.transport.kind,
    };
  }

  /**
   * A stored session that needs no write, with no other commit of it in this process: nothing
   * to queue behind and nothing to merge, so it skips the lane. (What commitStored would decide
   * on its first attempt, without its promise chain.)
   */
  function unchangedOutsideLane(st: SessionState): { none: boolean; dataBytes?: Uint8Array } {
    if (st.destroyed || st.rotated !== null || lanes.has(st.id as string)) return { none: false };
    const dataBytes = dataBytesOf(st);
    return { none: planCommit(storedFacts(st, dataBytes, config.clock())).effect === "none", dataBytes };
  }

  /** `encoded`: the data already serialized for the first attempt (by unchangedOutsideLane). */
  async function commitStored(st: SessionState, lane: Lane, encoded?: Uint8Array): Promise<CommitHeaders> {
    const id = st.id as string;
    const started = performance.now();
    const hadChanges = () => st.rotated !== null || changedFromBase(st, dataBytesOf(st));
    // A commit of this process already wrote a newer version: merge onto it, no read needed.
    let conflict: OpenedRow | "gone" | "undecodable" | null =
      lane.latest !== null && lane.latest.row.version > (st.base as LoadedRow).version ? lane.latest : null;

    for (let attempt = 1; ; attempt++) {
      const now = config.clock();
      if (conflict !== null) {
        const base = st.base as LoadedRow;
        const theirs = conflict;
        const decided = planConflict({
          row: typeof theirs === "string" ? theirs : "present",
          rotatedMeanwhile: typeof theirs !== "string" && theirs.base.secretHash !== base.secretHash,
          loginMeanwhile:
            typeof theirs !== "string" &&
            (theirs.base.userId !== base.userId || theirs.base.authenticatedAt !== base.authenticatedAt),
          loggingIn: st.rotated === "login",
        });
        if (decided.action === "interrupt") {
          lane.latest = null;
          return interrupt(st, theirs === "undecodable" ? "undecodable" : "gone");
        }
        if (decided.action === "drop") return supersede(st, hadChanges());
        mergeOnto(st, theirs as OpenedRow, decided.keepTheirSecret);
        encoded = undefined; // merged: serialize again
        conflict = null;
      }

      const base = st.base as LoadedRow;
      // Untouched data equals what was loaded: no need to serialize it to find out.
      const dataBytes = attempt === 1 && encoded !== undefined ? encoded : dataBytesOf(st);
      const plan = planCommit(storedFacts(st, dataBytes, now));

      if (plan.effect === "none") return plainHeaders(vary);

      if (plan.effect === "touch") {
        const expiry = expiresAt(config.policy, base.createdAt, now, st.lifetime);
        const value = plan.token === "set" ? tokenValue(st, base.secretHash) : null;
        const headers = headersFor(st, plan.token, value, expiry, now);
        if (await engine.call("touch", () => store.touch(id, base.secretHash, now, expiry))) {
          engine.cache?.touched(id, base.version, now, expiry);
          if (value !== null) st.raw = value;
          base.lastActiveAt = now;
          base.expiresAt = expiry;
          if (lane.latest?.row.version === base.version) lane.latest = null;
          return headers;
        }
        const current = await readCurrent(st, now);
        if (typeof current === "string") return interrupt(st, current);
        // Rotated meanwhile: a read-only request has nothing to write and must not send its
        // stale token (the browser keeps the new one).
        return plainHeaders(vary);
      }

      // update: one compare-and-set write of data, secret, user and times.
      const secretHash = st.rotated !== null ? hashSecret(st.secret as string) : base.secretHash;
      const expiry = expiresAt(config.policy, base.createdAt, now, st.lifetime);
      const binding = { id, secretHash, userId: st.userId, createdAt: base.createdAt };
      // Fields spelled out: object spread goes through a slow generic path, on every write.
      const row: StoredSession = {
        id,
        secretHash,
        userId: binding.userId,
        createdAt: binding.createdAt,
        data: codec.sealData(binding, { authenticatedAt: st.authenticatedAt, lifetime: st.lifetime }, dataBytes),
        version: base.version + 1,
        lastActiveAt: now,
        expiresAt: expiry,
        ip: base.ip,
        userAgent: base.userAgent,
        meta: st.meta,
      };
      // Built before the write: a cookie too large fails the commit with nothing written.
      const value = plan.token === "set" ? tokenValue(st, secretHash) : null;
      const headers = headersFor(st, plan.token, value, expiry, now);
      const rotated = st.rotated;
      const limit = rotated === "login" ? limitAround(engine, st.userId, id) : null;
      await limit?.before();
      // With the cache on and a channel that can, the write carries its own invalidation:
      // one round trip instead of two.
      const publish = engine.cache?.channel.publishesOnUpdate === true;
      const ticket = engine.cache?.ticket() ?? 0;
      if (await engine.call("update", () => store.update(row, base.version, publish ? PUBLISH : undefined))) {
        lane.latest = latestOf(row, rebase(st, row, dataBytes));
        if (value !== null) st.raw = value;
        await cacheWritten(st, row, dataBytes, publish, ticket);
        if (rotated) events.emit("rotated", { id, userId: row.userId, reason: rotated });
        await limit?.after();
        return headers;
      }
      // Lost the compare-and-set: another process wrote, or the session is gone.
      lane.latest = null;
      const elapsed = performance.now() - started;
      const retrying = elapsed <= config.retryBudget && attempt < MAX_ATTEMPTS;
      const hooks = config.instrumentation;
      if (hooks?.conflict) notify("conflict", () => hooks.conflict?.({ attempt, retrying }));
      if (!retrying) throw new SessionConflictError(attempt, config.retryBudget);
      // The first retry goes at once (the usual case is one other writer); then jittered
      // exponential backoff keeps many writers in several processes from colliding in step.
      if (attempt > 1) await sleep(Math.random() * Math.min(BACKOFF_CAP_MS, 2 ** (attempt - 1)));
      conflict = await readCurrent(st, config.clock());
    }
  }

  /**
   * Keeps the row just written in this process's cache, under the token the client now holds,
   * unless something heard since `ticket` may have made it stale (NearCache.offer). Not for a
   * client still holding another secret (a merged rotation of another request: it is sent none).
   */
  function keepWritten(st: SessionState, dataBytes: Uint8Array, ticket: number) {
    const cache = engine.cache;
    if (cache === null || cache.empty || st.raw === null || st.secret === null) return;
    const entry = {
      id: st.id as string,
      raw: st.raw,
      kind: st.transport.kind === "cookie" ? "cookie" : st.transport.header,
      secret: st.secret,
      base: st.base as LoadedRow,
      // Decoded from the bytes, not copied from the app's objects: a hit must see what a
      // store read would (JSON turns a Date into a string, drops undefined...).
      data: codec.decodeData(dataBytes),
    };
    cache.offer(ticket, entry, st.cookiePayload, true);
  }

  /**
   * After an update: tells every cache that the session is now at `row.version`
   * (`updateMessage`), unless the store's write did (`published`), and keeps the written row in
   * this process's cache, so the session's next request here reads nothing (write-through).
   * `ticket` was taken before the write: a delete, revoke or later write of the session heard
   * since keeps the row out (NearCache.offer).
   */
  async function cacheWritten(st: SessionState, row: StoredSession, dataBytes: Uint8Array, published: boolean, ticket: number) {
    const cache = engine.cache;
    if (cache === null) return;
    // Drops this process's entry of the old version, whether or not the store's echo came back.
    // `changed` does that before its first await; its publish (MySQL: an INSERT) is awaited
    // after the offer, so the session's next request here does not find the entry missing.
    const told = published ? null : engine.changed([row.id], row.version);
    if (published) cache.invalidate(updateMessage(row.id, row.version));
    keepWritten(st, dataBytes, ticket);
    await told;
  }

  /** Whether a session that was never stored holds anything worth a row. */
  function newSessionPlan(st: SessionState) {
    return planCommit({
      stored: false,
      destroyed: false,
      hadToken: st.hadToken,
      rotated: false,
      changed: true,
      holdsSomething:
        Object.keys(st.data).length > 0 || st.userId !== null || st.keep || st.meta !== null || st.lifetime !== null,
      touchDue: false,
      payloadChanged: true,
      secretKnown: true,
      transport: st.transport.kind,
    });
  }

  async function commitNew(st: SessionState): Promise<CommitHeaders> {
    const now = config.clock();
    const plan = newSessionPlan(st);
    // Lazy: a visitor (or bot) whose session holds nothing costs no row and no cookie.
    if (plan.effect === "none") return plainHeaders(vary);
    const dataBytes = encodeChecked(st);
    st.id ??= engine.context.newId();
    st.secret ??= engine.context.newSecret();
    const id = st.id;
    const secretHash = hashSecret(st.secret);
    const binding = { id, secretHash, userId: st.userId, createdAt: now };
    const expiry = expiresAt(config.policy, now, now, st.lifetime);
    const row: StoredSession = {
      id,
      secretHash,
      userId: binding.userId,
      createdAt: now,
      data: codec.sealData(binding, { authenticatedAt: st.authenticatedAt, lifetime: st.lifetime }, dataBytes),
      version: 1,
      lastActiveAt: now,
      expiresAt: expiry,
      ip: st.ip,
      userAgent: st.userAgent,
      meta: st.meta,
    };
    const value = tokenValue(st, secretHash);
    const headers = headersFor(st, plan.token, value, expiry, now);
    const limit = limitAround(engine, st.userId, id);
    await limit.before();
    const ticket = engine.cache?.ticket() ?? 0;
    if (!(await engine.call("create", () => store.create(row)))) {
      throw new SessionStateError("a freshly generated session id already exists; check the random source");
    }
    rebase(st, row, dataBytes);
    st.raw = value;
    // The new session's next request is a hit. Nothing was cached under a new id: no message
    // to wait for, only an invalidation (a revoke) heard since the ticket keeps it out.
    keepWritten(st, dataBytes, ticket);
    events.emit("created", { id, userId: row.userId });
    await limit.after();
    return headers;
  }

  async function commitDestroyed(st: SessionState): Promise<CommitHeaders> {
    const stored = st.base !== null;
    const plan = planCommit({
      stored,
      destroyed: true,
      hadToken: st.hadToken,
      rotated: false,
      changed: false,
      holdsSomething: false,
      touchDue: false,
      payloadChanged: false,
      secretKnown: st.secret !== null,
      transport: st.transport.kind,
    });
    if (plan.effect === "delete") {
      const id = st.id as string;
      await engine.call("delete", () => store.delete(id));
      await engine.changed([id]);
      events.emit("destroyed", { id, userId: st.base?.userId ?? null });
      const lane = lanes.get(id);
      if (lane) lane.latest = null;
    }
    const headers = headersFor(st, plan.token, null, null, 0);
    Object.assign(st, freshState(st.transport, false, st.ip, st.userAgent));
    return headers;
  }

  function stateOf(session: Session): SessionState {
    if (!(session instanceof Session)) throw new TypeError("[sessionkit] commit() takes the session that load() returned");
    const st = session[STATE];
    if (st.committing) throw new SessionStateError("commit() is already running for this session; await it once");
    return st;
  }

  async function running<T>(st: SessionState, run: () => Promise<T>): Promise<T> {
    st.committing = true;
    try {
      return await run();
    } finally {
      st.committing = false;
    }
  }

  /**
   * Writes what changed (nothing, a touch, a compare-and-set update, a delete) and returns
   * the headers to add to the response: synchronously when the commit needs no store
   * operation at all (an unchanged session, a new one holding nothing), so adapters can add
   * them before the response goes out without holding it back; else a promise.
   */
  function commitNowOrLater(session: Session): CommitHeaders | Promise<CommitHeaders> {
    const st = stateOf(session);
    if (st.base === null) {
      if (!st.destroyed && newSessionPlan(st).effect === "none") return plainHeaders(vary);
      return running(st, () => (st.destroyed ? commitDestroyed(st) : commitNew(st)));
    }
    const pre = unchangedOutsideLane(st);
    if (pre.none) return plainHeaders(vary);
    // The bytes serialized to find out go on to the write: the data is serialized once.
    return running(st, () =>
      inLane(st.id as string, (lane) => (st.destroyed ? commitDestroyed(st) : commitStored(st, lane, pre.dataBytes))),
    );
  }

  /** `commitNowOrLater` as a promise (a misuse or a data size error rejects rather than throws). */
  const commit = async (session: Session): Promise<CommitHeaders> => commitNowOrLater(session);

  return { commit, commitNowOrLater };
}
