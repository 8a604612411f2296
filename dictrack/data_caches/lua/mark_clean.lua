-- Clear dirty marks whose version is at most the one stored; once a group has
-- no marks left, give its keys a time to live, so that an idle group leaves
-- the cache by itself (apply.lua removes it with the group's next mark).
-- KEYS[1] dirty marks (hash)   KEYS[2] version   KEYS[3] states (hash)
-- KEYS[4] definition ids (hash)   KEYS[5] event ids (zset)   KEYS[6] event
-- sequence (string)
-- ARGV[1] time to live in milliseconds ("0": none), then pairs: name, stored
-- version, ...
-- Returns the number of marks cleared.
local cleared = 0
for i = 2, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if current and tonumber(current) <= tonumber(ARGV[i + 1]) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    cleared = cleared + 1
  end
end
local ttl = tonumber(ARGV[1])
if ttl > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[4], ttl)
  redis.call('PEXPIRE', KEYS[5], ttl)
  redis.call('PEXPIRE', KEYS[6], ttl)
end
return cleared
