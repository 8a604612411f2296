-- Give a lease up, only if the one asking holds it.
-- KEYS[1] the lease (string: the holder's id)
-- ARGV[1] the holder asking
-- Returns 1 if the lease was released, 0 if it was not ARGV[1]'s.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
