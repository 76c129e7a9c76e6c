import { createHash } from "node:crypto";

/**
 * The Lua scripts behind the Redis store. Each one is a single round trip and runs
 * atomically on the server.
 *
 * Session hash fields: u (user id), d (data), v (version), c (created), a (last active),
 * e (expires), ip, ua (user agent), m (meta). An absent field is null.
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
 * KEYS: session. ARGV: idx, prefix, id, ttl, score, expected version, field pairs...
 * -> 0 when gone or the version differs, else {1, previous user id or nil}.
 */
export const UPDATE = script(
  "update",
  `
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[6] then return 0 end
local old = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
expire(KEYS[1], ARGV[4])
if ARGV[1] == '1' then
  local new = redis.call('HGET', KEYS[1], 'u')
  if old and old ~= new then redis.call('ZREM', ukey(old), ARGV[3]) end
  if new then redis.call('ZADD', ukey(new), ARGV[5], ARGV[3]) end
end
return {1, old}
`,
);

/**
 * Standalone rotate, all in one step. KEYS: old session, new session.
 * ARGV: idx, prefix, new id, ttl, score, expected version, old id, field pairs...
 * -> 0 when the old row is gone, its version differs or the new id exists; else {1, old user}.
 */
export const ROTATE = script(
  "rotate",
  `
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[6] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local old = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
if old then redis.call('ZREM', ukey(old), ARGV[7]) end
redis.call('HSET', KEYS[2], unpack(ARGV, 8))
expire(KEYS[2], ARGV[4])
local new = redis.call('HGET', KEYS[2], 'u')
if new then redis.call('ZADD', ukey(new), ARGV[5], ARGV[3]) end
return {1, old}
`,
);

/**
 * Cluster rotate, first step: compare-and-set delete of the old row.
 * KEYS: session. ARGV: idx, prefix, id, expected version -> 0, or {1, user id or nil}.
 */
export const CAS_DELETE = script(
  "cas-delete",
  `
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[4] then return 0 end
local old = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
return {1, old}
`,
);

/** KEYS: session. ARGV: idx, prefix, id, ttl, score, last active, expires ('' = null) -> 1 or 0 (gone). */
export const TOUCH = script(
  "touch",
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'a', ARGV[6])
if ARGV[7] == '' then redis.call('HDEL', KEYS[1], 'e') else redis.call('HSET', KEYS[1], 'e', ARGV[7]) end
expire(KEYS[1], ARGV[4])
index(KEYS[1])
return 1
`,
);

/**
 * KEYS: session. ARGV: idx, prefix, id, owner ('' = any). Deletes the row (only if it belongs
 * to the owner, when one is given) -> 0, or {1, user id or nil}.
 */
export const DELETE = script(
  "delete",
  `
local u = redis.call('HGET', KEYS[1], 'u')
if ARGV[4] ~= '' and u ~= ARGV[4] then return 0 end
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' and u then redis.call('ZREM', ukey(u), ARGV[3]) end
return {1, u}
`,
);

/**
 * KEYS: session. ARGV: idx, prefix, id, now. Deletes the row if it expired at `now`
 * -> 0, or {1, user id or nil}.
 */
export const PRUNE_ONE = script(
  "prune-one",
  `
local f = redis.call('HMGET', KEYS[1], 'e', 'u')
if not f[1] or tonumber(f[1]) > tonumber(ARGV[4]) then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[1] == '1' and f[2] then redis.call('ZREM', ukey(f[2]), ARGV[3]) end
return {1, f[2]}
`,
);

const LIST_FIELDS = "'u', 'v', 'c', 'a', 'e', 'ip', 'ua', 'm'";
/** The fields `listByUser` reads, in the order LIST returns them after the id. */
export const INFO_FIELDS = ["u", "v", "c", "a", "e", "ip", "ua", "m"] as const;

/**
 * Standalone listByUser. KEYS: user index. ARGV: idx, prefix, user id, now
 * -> {{id, u, v, c, a, e, ip, ua, m}, ...} for the live sessions. Entries whose session is
 * gone or belongs to someone else are trimmed; expired ones are skipped (pruning or Redis
 * itself removes them).
 */
export const LIST = script(
  "list",
  `
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local f = redis.call('HMGET', ARGV[2] .. ':s:{' .. id .. '}', ${LIST_FIELDS})
  if f[1] ~= ARGV[3] then
    redis.call('ZREM', KEYS[1], id)
  elseif not f[5] or tonumber(f[5]) > tonumber(ARGV[4]) then
    out[#out + 1] = {id, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]}
  end
end
return out
`,
);

/**
 * Standalone deleteByUser. KEYS: user index. ARGV: idx, prefix, user id, except ids...
 * -> the deleted ids.
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
    if redis.call('HGET', sk, 'u') == ARGV[3] then
      redis.call('DEL', sk)
      out[#out + 1] = id
    end
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`,
);
