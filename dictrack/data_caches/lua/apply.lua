-- Compare-and-set tracker states of one or more groups, idempotently per event
-- id: one call per track, and one per track_many round on a standalone server.
-- KEYS, per op: KEYS[1] version (string), KEYS[2] states (hash name ->
-- "ver|expire|state"), KEYS[3] definition ids (hash name -> id), KEYS[4] dirty
-- marks (hash name -> version); with an event id or writes also KEYS[5] event
-- ids (zset) and KEYS[6] event sequence (string). The next op's keys follow.
-- Last, on a standalone server only, the dirty index (zset group -> change
-- counter); on a cluster the caller indexes the group and every key is of one
-- group.
-- ARGV[1] number of ops, then per op: expected version, new version (a string:
-- versions are large integers that Lua numbers would print inexactly), group
-- id (its member in the dirty index), event id ("" for none), the event id
-- window (only with an event id), number of writes n (with neither an event
-- id nor writes, the op has 4 keys: it only checks the version), then
-- n triples: name, state ("" deletes), definition id ("" keeps the one stored).
-- A negative n (-n) announces n pairs instead: name and state, every
-- definition kept (what tracking sends: an event changes only states).
-- Returns one reply per op: 1 applied, 2 duplicate event id (plain integers:
-- the usual replies cost the client no list), {0} group missing,
-- {0, version, states (flat), definition ids (flat)} on a version
-- conflict, or {-1, message} when a key of the op holds foreign data (that op
-- writes nothing; the others go on).
-- Every op is read and checked before anything is written, so a failure never
-- leaves an op half-applied. The caller sends each group at most once per call.
local function foreign(found, expected)
  return found ~= 'none' and found ~= expected
end

local function in_chunks(command, key, flat, from)
  -- unpack() is bounded by the Lua stack: large writes go in chunks.
  for first = from, #flat, 1000 do
    redis.call(command, key, unpack(flat, first, math.min(first + 999, #flat)))
  end
end

local ops, replies = {}, {}
local k, a = 0, 2
local index = nil
local index_checked = false
for op = 1, tonumber(ARGV[1]) do
  local o = {
    v = KEYS[k + 1], s = KEYS[k + 2], d = KEYS[k + 3], m = KEYS[k + 4],
    expected = ARGV[a], version = ARGV[a + 1], group = ARGV[a + 2],
    event = ARGV[a + 3],
  }
  k, a = k + 4, a + 4
  if o.event ~= '' then
    o.window = ARGV[a]
    a = a + 1
  end
  local writes, stride = tonumber(ARGV[a]), 3
  if writes < 0 then
    writes, stride = -writes, 2
  end
  o.writes, o.stride, o.first = writes, stride, a + 1
  if o.event ~= '' or writes > 0 then
    o.e, o.n = KEYS[k + 1], KEYS[k + 2]
    k = k + 2
  end
  a = a + 1 + stride * writes
  for i = o.first + 1, a - 1, stride do  -- "" deletes; a definition id is set
    if ARGV[i] == '' or (stride == 3 and ARGV[i + 1] ~= '') then
      o.ids = true
    end
  end
  ops[op] = o
end
if KEYS[k + 1] then
  index = KEYS[k + 1]
end

-- Pass 1: read and check; nothing is written.
for op, o in ipairs(ops) do
  local reply = nil
  if o.event ~= '' then
    -- The sequence is INCRed in pass 2: it must hold an integer (or nothing).
    local seq = redis.pcall('GET', o.n)
    if foreign(redis.call('TYPE', o.e)['ok'], 'zset')
      or type(seq) == 'table' or (seq and not tonumber(seq)) then
      reply = {-1, 'WRONGTYPE foreign data in the event keys of this group'}
    elseif redis.call('ZSCORE', o.e, o.event) then
      reply = 2
    end
  end
  if not reply then
    local current = redis.pcall('GET', o.v)
    if type(current) == 'table' and current.err then
      reply = {-1, current.err}
    elseif not current then
      reply = {0}
    elseif current ~= o.expected then
      local states = redis.pcall('HGETALL', o.s)
      local ids = redis.pcall('HGETALL', o.d)
      if states.err or ids.err then
        reply = {-1, states.err or ids.err}
      else
        reply = {0, current, states, ids}
      end
    end
  end
  if not reply and o.writes > 0 then
    -- Keys this op writes must hold what dictrack wrote. The states hash is
    -- checked by the op's first write (an HSET or HDEL fails whole).
    local marks = redis.call('TYPE', o.m)['ok']
    o.unmarked = marks == 'none'
    if foreign(marks, 'hash')
      or (o.ids and foreign(redis.call('TYPE', o.d)['ok'], 'hash')) then
      reply = {-1, 'WRONGTYPE foreign data in a key of this group'}
    elseif o.unmarked and index and not index_checked then
      index_checked = true
      if foreign(redis.call('TYPE', index)['ok'], 'zset') then
        return redis.error_reply('WRONGTYPE foreign data in the dirty index')
      end
    end
  end
  replies[op] = reply
end

-- Pass 2: write.
local function write(o)
  -- Names and states to set, marks, and (rarely) deletions and definitions.
  local sets, marks, dels, defs = {}, {}, nil, nil  -- the rare two: on demand
  local ns, nm = 0, 0
  local version, stride = o.version, o.stride
  for i = o.first, o.first + stride * (o.writes - 1), stride do
    local name, state = ARGV[i], ARGV[i + 1]
    if state == '' then
      dels = dels or {}
      dels[#dels + 1] = name
    else
      sets[ns + 1], sets[ns + 2] = name, state
      ns = ns + 2
      local def = stride == 3 and ARGV[i + 2] or ''
      if def ~= '' then
        defs = defs or {}
        defs[#defs + 1] = name
        defs[#defs + 1] = def
      end
    end
    marks[nm + 1], marks[nm + 2] = name, version
    nm = nm + 2
  end
  -- The first write checks the states hash: a foreign one refuses the op
  -- before anything of it is written.
  local command, flat = 'HSET', sets
  if ns == 0 then
    command, flat = 'HDEL', dels
  end
  local done = redis.pcall(command, o.s, unpack(flat, 1, math.min(#flat, 1000)))
  if type(done) == 'table' and done.err then
    return {-1, done.err}
  end
  if #flat > 1000 then
    in_chunks(command, o.s, flat, 1001)
  end
  if dels then
    if ns > 0 then
      in_chunks('HDEL', o.s, dels, 1)
    end
    in_chunks('HDEL', o.d, dels, 1)
  end
  if defs then
    in_chunks('HSET', o.d, defs, 1)
  end
  if nm <= 1000 then  -- the usual op: one call, no chunking
    redis.call('HSET', o.m, unpack(marks))
  else
    in_chunks('HSET', o.m, marks, 1)
  end
  redis.call('SET', o.v, version)
  if o.unmarked then
    -- A clean group may have a time to live (mark_clean.lua): data that is
    -- not yet in the store never expires. SET above already cleared the
    -- version's.
    redis.call('PERSIST', o.s)
    redis.call('PERSIST', o.d)
    redis.call('PERSIST', o.e)  -- event ids too: a retried event must stay
    redis.call('PERSIST', o.n)  -- known while its group is not stored
    -- The index entry's score grows whenever the group gets its first mark,
    -- so a flush that read an older score never drops it (see unindex.lua).
    if index then
      redis.call('ZINCRBY', index, 1, o.group)
    end
  end
  return nil
end

for op, o in ipairs(ops) do
  if not replies[op] then
    if o.writes > 0 then
      replies[op] = write(o)
    end
    if not replies[op] and o.event ~= '' then
      local seq = redis.call('INCR', o.n)
      redis.call('ZADD', o.e, seq, o.event)
      local extra = redis.call('ZCARD', o.e) - tonumber(o.window)
      if extra > 0 then
        redis.call('ZPOPMIN', o.e, extra)
      end
      local ttl = redis.call('PTTL', o.v)
      if ttl > 0 then  -- a clean group: its event ids leave with it
        redis.call('PEXPIRE', o.e, ttl)
        redis.call('PEXPIRE', o.n, ttl)
      end
    end
    replies[op] = replies[op] or 1
  end
end
return replies
