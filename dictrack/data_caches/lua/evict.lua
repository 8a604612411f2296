-- Drop a cached group unless it has dirty marks.
-- KEYS[1] version  KEYS[2] states  KEYS[3] definition ids  KEYS[4] event ids
-- KEYS[5] dirty marks  KEYS[6] event sequence
-- ARGV: none
-- Returns 1 when dropped, 0 when not cached or still dirty.
if redis.call('EXISTS', KEYS[5]) == 1 or redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6])
return 1
