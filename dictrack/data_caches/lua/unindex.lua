-- Remove a group from the dirty index if no mark was added since it was read.
-- KEYS[1] dirty index (zset group -> change counter)
-- ARGV[1] group id   ARGV[2] the counter read before its marks were taken
-- Returns 1 when removed.
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
