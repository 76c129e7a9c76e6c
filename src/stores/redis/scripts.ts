import { createHash } from "node:crypto";

/**
 * The Lua scripts behind the Redis store. Each one is a single round trip and runs
 * atomically on the server.
 *
 * Session hash fields: h (secret hash), u (user id), d (data), v (version), c (created),
 * a (last active), e (expires), ip, ua (user agent), m (meta). An absent field is null.
 * A hash without `h` was written by sessionkit before the secret hash existed (its key is
 * named by the old 64-character id): every script treats it as missing, and pruning
 * deletes it (see PRUNE_ONE).
 *
 * Write scripts share one ARGV head: [1] "1" when the script keeps the user index itself
 * (standalone: it may reach the user's key, built from [2] the prefix) or "0" when the caller
 * does it in separate, ordered steps (Cluster: a script may only touch keys of one slot).
 * [3] is the session id.
 */
export interface RedisScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

const PRELUDE = `
local function ukey(u) return ARGV[2] .. ':u:{' .. u .. '}' end
-- Standalone only: (re)score the session in its user's index ([5] is the score).
local function index(k)
  if ARGV[1] ~= '1' then return end
  local u = redis.call('HGET', k, 'u')
  if u then redis.call('ZADD', ukey(u), ARGV[5], ARGV[3]) end
end
local function expire(k, ttl)
  if ttl == '' then redis.call('PERSIST', k) else redis.call('PEXPIRE', k, ttl) end
end
`;

function script(name: string, body: string): RedisScript {
  const lua = `${PRELUDE}${body}`;
  return Object.freeze({ name, lua, sha: createHash("sha1").update(lua).digest("hex") });
}

/** KEYS: session. ARGV: idx, prefix, id, ttl, score, field pairs... -> 1 created, 0 exists. */
export const CREATE = script(
  "create",
  `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
expire(KEYS[1], ARGV[4])
index(KEYS[1])
return 1
`,
);

/**
 * The compare-and-set body; `fields` is the ARGV index of the first field pair, `after` runs
 * once the row is written (the publishing variant's PUBLISH).
 */
const updateBody = (fields: number, after: string) => `
local f = redis.call('HMGET', KEYS[1], 'v', 'h', 'u')
if not f[2] or f[1] ~= ARGV[6] then return 0 end
local old = f[3]
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, ${fields}))
expire(KEYS[1], ARGV[4])
if ARGV[1] == '1' then
  local new = redis.call('HGET', KEYS[1], 'u')
  if old and old ~= new then redis.call('ZREM', ukey(old), ARGV[3]) end
  if new then redis.call('ZADD', ukey(new), ARGV[5], ARGV[3]) end
end${after}
return {1, old}
`;

/**
 * Compare-and-set of the whole row; login and rotation are this too (a new `h`, same key).
 * KEYS: session. ARGV: idx, prefix, id, ttl, score, expected version, field pairs...
 * -> 0 when gone (or an old-format hash) or the version differs, else {1, previous user id or nil}.
 * A deleted key stays deleted: the version check fails on a missing hash.
 */
export const UPDATE = script("update", updateBody(7, ""));

/**
 * UPDATE that also publishes on the invalidation channel, in the same round trip, once the row
 * is written (the near-cache's `publishesOnUpdate`). PUBLISH names no key, so it is allowed in
 * a Cluster script too. A refused update publishes nothing.
 * KEYS: session. ARGV: as UPDATE, with the channel name at [7], the message at [8] and the
 * field pairs from [9].
 */
export const UPDATE_PUBLISH = script("update-publish", updateBody(9, "\nredis.call('PUBLISH', ARGV[7], ARGV[8])"));

/**
 * Timestamps and TTL only, and only while the row still carries the caller's secret hash:
 * after a rotation the old token must not keep the row alive.
 * KEYS: session. ARGV: idx, prefix, id, ttl, score, secret hash, last active, expires ('' = null)
 * -> 1, or 0 (gone, or another secret hash).
 */
export const TOUCH = script(
  "touch",
  `
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[6] then return 0 end
redis.call('HSET', KEYS[1], 'a', ARGV[7])
if ARGV[8] == '' then redis.call('HDEL', KEYS[1], 'e') else redis.call('HSET', KEYS[1], 'e', ARGV[8]) end
expire(KEYS[1], ARGV[4])
index(KEYS[1])
return 1
`,
);

/**
 * KEYS: session. ARGV: idx, prefix, id, owner ('' = any). Deletes the row (only if it belongs
 * to the owner, when one is given) -> 0 when nothing was deleted, else {counted, user id or nil}
 * where counted is 0 for an old-format hash (deleted, but it was never a session to report).
 */
export const DELETE = script(
  "delete",
  `
local f = redis.call('HMGET', KEYS[1], 'u', 'h')
local u = f[1]
if ARGV[4] ~= '' and u ~= ARGV[4] then return 0 end
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' and u then redis.call('ZREM', ukey(u), ARGV[3]) end
if f[2] then return {1, u} end
return {0, u}
`,
);

/**
 * KEYS: session. ARGV: idx, prefix, id, now. Deletes the row if it expired at `now`, or if it
 * is an old-format hash (no `h`: no token can ever match it) -> 0, or {1, user id or nil}.
 */
export const PRUNE_ONE = script(
  "prune-one",
  `
local f = redis.call('HMGET', KEYS[1], 'e', 'u', 'h', 'v')
if not f[4] then return 0 end
if f[3] and (not f[1] or tonumber(f[1]) > tonumber(ARGV[4])) then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[1] == '1' and f[2] then redis.call('ZREM', ukey(f[2]), ARGV[3]) end
return {1, f[2]}
`,
);

/**
 * The fields `listByUser` reads, in the order LIST returns them after the id; the last one,
 * `h`, is only read to skip old-format hashes and is not returned by LIST.
 */
export const INFO_FIELDS = ["u", "v", "c", "a", "e", "ip", "ua", "m", "h"] as const;
const LIST_FIELDS = INFO_FIELDS.map((f) => `'${f}'`).join(", ");

/**
 * Standalone listByUser. KEYS: user index. ARGV: idx, prefix, user id, now
 * -> {{id, u, v, c, a, e, ip, ua, m}, ...} for the live sessions. Entries whose session is
 * gone or belongs to someone else are trimmed; expired and old-format ones are skipped
 * (pruning or Redis itself removes them).
 */
export const LIST = script(
  "list",
  `
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[2] .. ':s:{' .. id .. '}', ${LIST_FIELDS})
  if f[1] ~= ARGV[3] then
    redis.call('ZREM', KEYS[1], id)
  elseif f[9] and (not f[5] or tonumber(f[5]) > tonumber(ARGV[4])) then
    out[#out + 1] = {id, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]}
  end
end
return out
`,
);

/**
 * Standalone deleteByUser. KEYS: user index. ARGV: idx, prefix, user id, except ids...
 * -> the deleted ids (old-format hashes of the user are deleted too, not reported).
 */
export const DELETE_USER = script(
  "delete-user",
  `
local keep = {}
for i = 4, #ARGV do keep[ARGV[i]] = true end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not keep[id] then
    local sk = ARGV[2] .. ':s:{' .. id .. '}'
    local f = redis.call('HMGET', sk, 'u', 'h')
    if f[1] == ARGV[3] then
      redis.call('DEL', sk)
      if f[2] then out[#out + 1] = id end
    end
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`,
);
