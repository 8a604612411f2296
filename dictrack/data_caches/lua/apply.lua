-- Compare-and-set a group's tracker states, idempotently per event id.
-- KEYS[1] version (string)    KEYS[2] states (hash name -> "ver|expire|state")
-- KEYS[3] definition ids (hash name -> id)    KEYS[4] event ids (zset)
-- KEYS[5] dirty marks (hash name -> version)  KEYS[6] event sequence (string)
-- KEYS[7] (standalone server only) dirty index (zset group -> change counter),
-- and then the last ARGV is the group id; on a cluster the caller indexes it.
-- ARGV[1] expected version   ARGV[2] new version (expected + 1, as a string:
-- versions are large integers that Lua numbers would print inexactly)
-- ARGV[3] event id ("" for none)   ARGV[4] event id window   ARGV[5] writes n
-- ARGV[6..] n triples: name, state ("" deletes), definition id ("" keeps)
-- Returns {1} applied, {2} duplicate event id, {0} group missing, or
-- {0, version, states (flat), definition ids (flat)} on a version conflict.
-- A key of the wrong type means foreign data: refuse before writing anything,
-- so a failure can never leave the group half-applied.
local type1 = redis.call('TYPE', KEYS[1])['ok']
local type2 = redis.call('TYPE', KEYS[2])['ok']
local type3 = redis.call('TYPE', KEYS[3])['ok']
local type4 = redis.call('TYPE', KEYS[4])['ok']
local type5 = redis.call('TYPE', KEYS[5])['ok']
local type6 = redis.call('TYPE', KEYS[6])['ok']
local type7 = KEYS[7] and redis.call('TYPE', KEYS[7])['ok'] or 'none'
if (type1 ~= 'none' and type1 ~= 'string')
  or (type2 ~= 'none' and type2 ~= 'hash')
  or (type3 ~= 'none' and type3 ~= 'hash')
  or (type4 ~= 'none' and type4 ~= 'zset')
  or (type5 ~= 'none' and type5 ~= 'hash')
  or (type6 ~= 'none' and type6 ~= 'string')
  or (type7 ~= 'none' and type7 ~= 'zset') then
  return redis.error_reply('WRONGTYPE foreign data in a key of this group')
end
local event_id = ARGV[3]
if event_id ~= '' and redis.call('ZSCORE', KEYS[4], event_id) then
  return {2}
end
local current = redis.call('GET', KEYS[1])
if not current then
  return {0}
end
if current ~= ARGV[1] then
  return {0, current, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
end
local n = tonumber(ARGV[5])
if n > 0 then
  local version = ARGV[2]
  for i = 0, n - 1 do
    local name, state, def = ARGV[6 + 3 * i], ARGV[7 + 3 * i], ARGV[8 + 3 * i]
    if state == '' then
      redis.call('HDEL', KEYS[2], name)
      redis.call('HDEL', KEYS[3], name)
    else
      redis.call('HSET', KEYS[2], name, state)
      if def ~= '' then
        redis.call('HSET', KEYS[3], name, def)
      end
    end
    redis.call('HSET', KEYS[5], name, version)
  end
  redis.call('SET', KEYS[1], version)
  if KEYS[7] then
    redis.call('ZINCRBY', KEYS[7], 1, ARGV[#ARGV])
  end
end
if event_id ~= '' then
  local seq = redis.call('INCR', KEYS[6])
  redis.call('ZADD', KEYS[4], seq, event_id)
  local extra = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[4])
  if extra > 0 then
    redis.call('ZPOPMIN', KEYS[4], extra)
  end
end
return {1}
