-- Take or renew a lease: one holder at a time, for a time to live.
-- KEYS[1] the lease (string: the holder's id)
-- ARGV[1] the holder asking   ARGV[2] time to live in milliseconds
-- Returns 1 if ARGV[1] holds the lease now (taken or renewed), 0 if another
-- holder has it.
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
