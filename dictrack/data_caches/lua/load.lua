-- Read a group consistently.
-- KEYS[1] version   KEYS[2] states (hash)   KEYS[3] definition ids (hash)
-- ARGV: none
-- Returns {} when the group is not cached, else {version, states, definition ids}.
local current = redis.call('GET', KEYS[1])
if not current then
  return {}
end
return {current, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3])}
