-- Clear dirty marks whose version is at most the one stored.
-- KEYS[1] dirty marks (hash)   ARGV: name, stored version, ...
-- Returns the number of marks cleared.
local cleared = 0
for i = 1, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  if current and tonumber(current) <= tonumber(ARGV[i + 1]) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    cleared = cleared + 1
  end
end
return cleared
