-- Cache a group loaded from the store, unless it is cached already.
-- KEYS[1] version   KEYS[2] states (hash)   KEYS[3] definition ids (hash)
-- ARGV[1] version to set   ARGV[2] number of trackers n
-- ARGV[3..] n triples: name, state, definition id; then the time to live in
-- milliseconds of the group (it is clean: it came from the store)
-- Returns {1} when written, or {0, version, states, definition ids} when the
-- group was cached already (it is never overwritten).
-- A key of the wrong type means foreign data: refuse before writing anything,
-- so a failure can never leave the group half-applied.
local type1 = redis.call('TYPE', KEYS[1])['ok']
local type2 = redis.call('TYPE', KEYS[2])['ok']
local type3 = redis.call('TYPE', KEYS[3])['ok']
if (type1 ~= 'none' and type1 ~= 'string')
  or (type2 ~= 'none' and type2 ~= 'hash')
  or (type3 ~= 'none' and type3 ~= 'hash') then
  return redis.error_reply('WRONGTYPE foreign data in a key of this group')
end
local current = redis.call('GET', KEYS[1])
if current then
  return {0, current, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
end
-- Hashes left by a group whose version expired first would mix with this one.
redis.call('DEL', KEYS[2], KEYS[3])
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
  redis.call('HSET', KEYS[2], ARGV[3 + 3 * i], ARGV[4 + 3 * i])
  redis.call('HSET', KEYS[3], ARGV[3 + 3 * i], ARGV[5 + 3 * i])
end
local ttl = ARGV[3 + 3 * n]
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
if n > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
return {1}
