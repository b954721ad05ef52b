"""Every Lua script of the patterns library, shared by the sync and asyncio faces.

Conventions, because Redis's Lua bridge has sharp edges:

* Numbers passed to ``redis.call`` are formatted with ``int()`` below: Redis
  turns a Lua number into a string with ``%.14g``, which would silently round a
  microsecond timestamp (16 digits).
* Numbers returned to the client are truncated to integers by Redis, so times
  come back as whole microseconds or milliseconds, never as fractions.
* Time comes from the server (``TIME``), never from the caller: clients'
  clocks disagree, the server's is one clock for everyone.
* Every key a script touches is passed in KEYS, so scripts run on Redis Cluster
  (a pattern instance keeps its keys in one hash slot).
"""

from ._ops import Script

_PRELUDE = """
local function int(n) return string.format('%d', n) end
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
"""


def _script(body: str) -> Script:
    return Script(_PRELUDE + body)


# XCLAIM of the ids in table `ids` to `consumer`, then the options given: one call
# whatever their number (unpack() amid other arguments would pass only its first value).
_RECLAIM = """
local function reclaim(key, group, consumer, ids, ...)
  local args = {'XCLAIM', key, group, consumer, 0}
  for _, id in ipairs(ids) do args[#args + 1] = id end
  for _, opt in ipairs({...}) do args[#args + 1] = opt end
  return redis.call(unpack(args))
end
"""


# --------------------------------------------------------------------- locks

# KEYS[1] lock, KEYS[2] fencing counter; ARGV[1] owner token, ARGV[2] ttl ms.
# {1, fence} when acquired, {0, pttl} when held by someone else. The counter is
# bumped in the same script as the SET, so fencing tokens increase strictly in
# the order locks are granted; it has no TTL because restarting it would hand
# out old numbers again. KEYS[3], when given, is the "someone waits" flag: a
# refused attempt sets it (for WAITER_FLAG_MS) in the same step, so a release
# that comes after the refusal always sees it and wakes the waiter.
LOCK_ACQUIRE = _script("""
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {1, redis.call('INCR', KEYS[2])}
end
if KEYS[3] then redis.call('SET', KEYS[3], '1', 'PX', 10000) end
return {0, redis.call('PTTL', KEYS[1])}
""")

# Deletes the lock only if ARGV[1] still owns it: after expiry someone else may.
# KEYS[2], when given, is the lock's wake-up list: one element is left in it
# (kept ARGV[2] ms) so that a waiter blocked in BLPOP on it tries again at once.
# The list never holds more than one element, whatever the number of releases.
# With KEYS[3] (the "someone waits" flag) it is filled only if someone waits.
LOCK_RELEASE = _script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if KEYS[2] and (not KEYS[3] or redis.call('EXISTS', KEYS[3]) == 1) then
    redis.call('DEL', KEYS[2])
    redis.call('RPUSH', KEYS[2], '1')
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
  end
  return 1
end
return 0
""")

# Resets the TTL to ARGV[2] ms only if ARGV[1] still owns the lock.
LOCK_EXTEND = _script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
""")

# A resource guarded by fencing: KEYS[1] is a hash whose ':fence' field keeps the
# highest token seen. A write carrying a lower token comes from a holder whose
# lock has since passed to someone else, and is refused. ARGV[1] token,
# ARGV[2..] field/value pairs. {1, token} or {0, highest token seen}.
FENCED_WRITE = _script("""
local last = tonumber(redis.call('HGET', KEYS[1], ':fence') or '0')
local token = tonumber(ARGV[1])
if token < last then return {0, last} end
redis.call('HSET', KEYS[1], ':fence', ARGV[1], unpack(ARGV, 2))
return {1, token}
""")

# ---------------------------------------------------------------- semaphores
# KEYS[1] is a sorted set of permit holders (owner token -> expiry, server ms).
# Expired members are dropped before every decision, so the permit of a holder
# that crashed (or is paused past its TTL) returns to the pool by itself. The
# set's own TTL follows its latest permit, so an idle semaphore leaves no key.
_SEM_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function keep_alive(key, now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #last > 0 then redis.call('PEXPIRE', key, int(tonumber(last[2]) - now + 1)) end
end
local function wake(key, ms)
  redis.call('DEL', key)
  redis.call('RPUSH', key, '1')
  redis.call('PEXPIRE', key, ms)
end
"""

# KEYS[1] holders, KEYS[2] fencing counter, KEYS[3] (optional) "someone waits"
# flag, set by a refused attempt; ARGV[1] owner, ARGV[2] ttl ms, ARGV[3] limit.
# {1, fence} when granted, {0, ms until the soonest permit expires}.
SEMAPHORE_ACQUIRE = _script(_SEM_PRELUDE + """
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[2])), ARGV[1])
  keep_alive(KEYS[1], now)
  return {1, redis.call('INCR', KEYS[2])}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if KEYS[3] then redis.call('SET', KEYS[3], '1', 'PX', 10000) end
return {0, int(tonumber(first[2]) - now)}
""")

# Extends (ARGV[2] ms) or checks (ARGV[2] = 0) permit ARGV[1] if still valid.
SEMAPHORE_EXTEND = _script(_SEM_PRELUDE + """
local now = now_ms()
local until_ = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not until_ or tonumber(until_) <= now then return 0 end
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], 'XX', int(now + tonumber(ARGV[2])), ARGV[1])
  keep_alive(KEYS[1], now)
end
return 1
""")

# Gives permit ARGV[1] back; KEYS[2] (optional) is the wake-up list, kept ARGV[2] ms,
# filled only while KEYS[3] (the "someone waits" flag, optional) exists.
SEMAPHORE_RELEASE = _script(_SEM_PRELUDE + """
local now = now_ms()
local until_ = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if KEYS[2] and (not KEYS[3] or redis.call('EXISTS', KEYS[3]) == 1) then
  wake(KEYS[2], ARGV[2])
end
if not until_ or tonumber(until_) <= now then return 0 end
return 1
""")

# ----------------------------------------------------------- read-write locks
# KEYS: [1] readers (sorted set owner -> expiry ms), [2] writer (string owner,
# PX), [3] writers waiting (sorted set owner -> until when the intent holds),
# [4] fencing counter, [5] wake-up list. Writer preference: while a writer
# waits, no new reader gets in, so a stream of readers cannot starve writers.
# ARGV[1] owner, ARGV[2] ttl ms, ARGV[3] how long a waiting writer's intent
# lasts without being renewed (each attempt renews it) in ms.
RW_READ_ACQUIRE = _script(_SEM_PRELUDE + """
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now))
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', int(now))
local w = redis.call('PTTL', KEYS[2])
if w > 0 then return {0, w} end
local waiting = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #waiting > 0 then
  -- A reader woken while a writer waits must not swallow the wake-up: when the
  -- writer could enter now, pass it on (blocked clients are served in order).
  if redis.call('ZCARD', KEYS[1]) == 0 then wake(KEYS[5], ARGV[2]) end
  return {0, int(tonumber(waiting[2]) - now)}
end
redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[2])), ARGV[1])
keep_alive(KEYS[1], now)
-- pass the wake-up on: other readers blocked behind the same writer may enter too
if redis.call('EXISTS', KEYS[5]) == 0 then wake(KEYS[5], ARGV[2]) end
return {1, redis.call('INCR', KEYS[4])}
""")

RW_WRITE_ACQUIRE = _script(_SEM_PRELUDE + """
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now))
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', int(now))
local w = redis.call('PTTL', KEYS[2])
local left = 0
if w > 0 then
  left = w
else
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #first > 0 then left = tonumber(first[2]) - now end
end
if left > 0 then
  redis.call('ZADD', KEYS[3], int(now + tonumber(ARGV[3])), ARGV[1])
  keep_alive(KEYS[3], now)
  return {0, int(left)}
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return {1, redis.call('INCR', KEYS[4])}
""")

# A writer that stops waiting withdraws its intent, letting readers in again.
RW_WRITE_WITHDRAW = _script("""
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
""")

# ------------------------------------------------------------------- redlock
# One node's part of a Redlock over several resources: all or none.

REDLOCK_ACQUIRE = _script("""
for _, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then return 0 end
end
for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end
return 1
""")

REDLOCK_RELEASE = _script("""
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then n = n + redis.call('DEL', k) end
end
return n
""")

REDLOCK_EXTEND = _script("""
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) ~= ARGV[1] then return 0 end
end
for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ARGV[2]) end
return 1
""")

# ------------------------------------------------------------------- streams

# Moves entry ARGV[3] to the dead-letter stream and acks it, in one step, and
# only while it is still pending for this consumer (ARGV[2] of group ARGV[1]):
# if another consumer has claimed it meanwhile, the entry is theirs to finish.
# The payload is copied under 'f:'-prefixed names so it can never collide with
# the metadata; the delivery count is the server's, not the caller's.
# ARGV[4] error text, ARGV[5] dead-letter MAXLEN (~). Returns the new id or nil.
STREAM_DEAD_LETTER = _script("""
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #p == 0 then return false end
local fields = {'id', ARGV[3], 'stream', KEYS[1], 'group', ARGV[1],
                'consumer', ARGV[2], 'error', ARGV[4], 'deliveries', int(p[1][4])}
local e = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])
if #e > 0 then
  local kv = e[1][2]
  for i = 1, #kv, 2 do
    fields[#fields + 1] = 'f:' .. kv[i]
    fields[#fields + 1] = kv[i + 1]
  end
end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', unpack(fields))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return id
""")

# Puts dead letter ARGV[1] (in KEYS[1]) back on its stream KEYS[2] as a new
# entry and removes it from the dead-letter stream, atomically.
STREAM_REPLAY = _script("""
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return false end
local kv, fields = e[1][2], {}
for i = 1, #kv, 2 do
  if string.sub(kv[i], 1, 2) == 'f:' then
    fields[#fields + 1] = string.sub(kv[i], 3)
    fields[#fields + 1] = kv[i + 1]
  end
end
if #fields == 0 then fields = {'replayed-from', ARGV[1]} end
local id = redis.call('XADD', KEYS[2], '*', unpack(fields))
redis.call('XDEL', KEYS[1], ARGV[1])
return id
""")

# Heartbeat for long handlers: resets the idle time of the entries ARGV[3..]
# that consumer ARGV[2] still owns (XCLAIM JUSTID keeps the delivery count), so
# reclaimers do not take them mid-work. Returns the ids it no longer owns.
STREAM_HEARTBEAT = _script(_RECLAIM + """
local mine, lost = {}, {}
for i = 3, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) == 1 then
    mine[#mine + 1] = ARGV[i]
  else
    lost[#lost + 1] = ARGV[i]
  end
end
if #mine > 0 then reclaim(KEYS[1], ARGV[1], ARGV[2], mine, 'JUSTID') end
return lost
""")

# Re-delivers failed entry ARGV[3] to its own consumer ARGV[2] for a retry,
# bumping the delivery count, only if that consumer still owns it.
# Returns {deliveries, {entry}} ({n, {}} if the entry was deleted) or nil.
STREAM_RETRY = _script("""
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #p == 0 then return false end
local entries = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3])
return {p[1][4] + 1, entries}
""")

# Producer side of delayed and deduplicated entries. Key layout (every key holds
# the stream's hash tag, so all of a stream's keys share one cluster slot):
#   <stream>                     the stream (``{s}`` for a tag-less name ``s``)
#   {s}:delayed                  sorted set: member = token ':' netstring fields,
#                                score = server time (ms) it is due
#   {s}:dedup:<idempotency key>  string: the id given to that key, kept PX window
#
# Adds fields ARGV[4..] to stream KEYS[1] unless idempotency key KEYS[2] was
# seen within the window (ARGV[1] ms); ARGV[2] MAXLEN (0: none), ARGV[3] '1' for
# MAXLEN ~. Returns {id, 1} when added, {earlier id, 0} when a duplicate.
STREAM_ADD_ONCE = _script("""
local seen = redis.call('GET', KEYS[2])
if seen then return {seen, 0} end
local id
if tonumber(ARGV[2]) > 0 then
  local op = '='
  if ARGV[3] == '1' then op = '~' end
  id = redis.call('XADD', KEYS[1], 'MAXLEN', op, ARGV[2], '*', unpack(ARGV, 4))
else
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 4))
end
redis.call('SET', KEYS[2], id, 'PX', ARGV[1])
return {id, 1}
""")

# Appends several entries to stream KEYS[1] in one step, in order: ARGV[1]
# MAXLEN (0: none), ARGV[2] '1' for MAXLEN ~, then for each entry its number of
# fields n followed by its 2n names and values. Trimming happens on the last
# XADD, which leaves the stream as trimming on each would. Returns the new ids.
# For cluster clients; a plain client sends the XADDs as one MULTI/EXEC that
# costs both sides less (see StreamProducerCore.add_many).
STREAM_ADD_MANY = _script("""
local out, i, last = {}, 3, #ARGV
while i <= last do
  local n = tonumber(ARGV[i])
  local j = i + 1 + 2 * n
  if j > last and tonumber(ARGV[1]) > 0 then
    local op = '='
    if ARGV[2] == '1' then op = '~' end
    out[#out + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', op, ARGV[1], '*',
                               unpack(ARGV, i + 1, j - 1))
  else
    out[#out + 1] = redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 1, j - 1))
  end
  i = j
end
return out
""")

# Schedules member ARGV[2] in the delayed set KEYS[1], due ARGV[1] ms from the
# server's now; KEYS[2] (optional) is the idempotency key, kept ARGV[3] ms.
# Returns {'delayed:' token, 1}, or {earlier id, 0} for a duplicate.
STREAM_ADD_DELAYED = _script("""
if KEYS[2] then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {seen, 0} end
end
local t = redis.call('TIME')
local due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], int(due), ARGV[2])
local id = 'delayed:' .. string.sub(ARGV[2], 1, string.find(ARGV[2], ':', 1, true) - 1)
if KEYS[2] then redis.call('SET', KEYS[2], id, 'PX', ARGV[3]) end
return {id, 1}
""")

# Moves up to ARGV[1] due members of the delayed set KEYS[1] onto stream KEYS[2]
# (MAXLEN ~ ARGV[2] unless 0), oldest due first; one script, so two workers
# promoting at once never add an entry twice. Returns {moved, ms until the next
# one is due (-1: none left)}.
STREAM_PROMOTE = _script("""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now), 'LIMIT', 0, ARGV[1])
for _, m in ipairs(due) do
  local fields, i = {}, string.find(m, ':', 1, true) + 1
  while i <= #m do
    local colon = string.find(m, ':', i, true)
    local n = tonumber(string.sub(m, i, colon - 1))
    fields[#fields + 1] = string.sub(m, colon + 1, colon + n)
    i = colon + n + 1
  end
  if tonumber(ARGV[2]) > 0 then
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
  else
    redis.call('XADD', KEYS[2], '*', unpack(fields))
  end
  redis.call('ZREM', KEYS[1], m)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return {#due, -1} end
return {#due, int(math.max(0, tonumber(nxt[2]) - now))}
""")

# Makes entries ARGV[4..], still pending for consumer ARGV[2] of group ARGV[1],
# look abandoned (idle ARGV[3] ms) so another worker reclaims them at once
# instead of after claim_idle: what a worker that shuts down does with the
# entries it could not finish.
STREAM_RELEASE = _script(_RECLAIM + """
local mine = {}
for i = 4, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) == 1 then
    mine[#mine + 1] = ARGV[i]
  end
end
if #mine > 0 then reclaim(KEYS[1], ARGV[1], ARGV[2], mine, 'IDLE', ARGV[3], 'JUSTID') end
return #mine
""")

# Delivery counts of ids ARGV[2..] in group ARGV[1] (0 when no longer pending).
STREAM_DELIVERIES = _script("""
local out = {}
for i = 2, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 then out[#out + 1] = p[1][4] else out[#out + 1] = 0 end
end
return out
""")

# ------------------------------------------------------------- rate limiting
# One script checks any number of limits for one identity (KEYS, one per limit,
# all under the identity's hash tag) and consumes all of them or none: a
# request refused by one limit records nothing anywhere, so hammering while
# limited does not push a limit further out. Each strategy below *checks* with
# reads only and returns a ``commit`` closure that does its writes.
#
# ARGV[1] 'hit' | 'peek', ARGV[2] cost, ARGV[3] a token unique per call (the
# sliding log's members, so requests in the same microsecond all count), then
# per limit: strategy, limit, window µs, burst (GCRA). Returns, per limit,
# {allowed, remaining, retry_after µs (-1: never), reset_after µs}: for a hit
# that passed, the state after it; otherwise the state as it is.

_RATE_PRELUDE = """
local function sliding_log(key, limit, window, cost, burst, token, now)
  local floor = '(' .. int(now - window)
  local used = redis.call('ZCOUNT', key, floor, '+inf')
  local c = {ok = used + cost <= limit, before = math.max(0, limit - used),
             after = limit - used - cost, retry = 0, reset_if = window, reset = 0}
  if used > 0 then
    local newest = redis.call('ZRANGEBYSCORE', key, floor, '+inf', 'WITHSCORES', 'LIMIT', used - 1, 1)
    c.reset = tonumber(newest[2]) + window - now
  end
  if c.ok then
    c.commit = function()
      redis.call('ZREMRANGEBYSCORE', key, '-inf', int(now - window))
      for i = 1, cost do redis.call('ZADD', key, int(now), token .. ':' .. i) end
      redis.call('PEXPIRE', key, int(math.ceil(window / 1000)))
    end
  elseif cost > limit then c.retry = -1
  else
    -- the (used + cost - limit)-th oldest entry has to leave the window first
    local e = redis.call('ZRANGEBYSCORE', key, floor, '+inf', 'WITHSCORES', 'LIMIT',
                         used + cost - limit - 1, 1)
    c.retry = tonumber(e[2]) + window - now
  end
  return c
end

-- Sliding-window counter: counts per fixed window (hash field = window number),
-- estimating the sliding window as the current count plus the previous count
-- weighted by how much of the previous window still overlaps it.
local function sliding_window(key, limit, window, cost, burst, token, now)
  local w = math.floor(now / window)
  local elapsed = now - w * window
  local cur = tonumber(redis.call('HGET', key, int(w)) or '0')
  local prev = tonumber(redis.call('HGET', key, int(w - 1)) or '0')
  local used = prev * (window - elapsed) / window + cur
  local c = {ok = used + cost <= limit, before = math.max(0, math.floor(limit - used)),
             after = math.floor(limit - used - cost), retry = 0,
             reset_if = window - elapsed + window, reset = 0}
  if cur > 0 then c.reset = window - elapsed + window elseif prev > 0 then c.reset = window - elapsed end
  if c.ok then
    c.commit = function()
      redis.call('HINCRBY', key, int(w), cost)
      for _, f in ipairs(redis.call('HKEYS', key)) do
        if tonumber(f) < w - 1 then redis.call('HDEL', key, f) end
      end
      redis.call('PEXPIRE', key, int(math.ceil(c.reset_if / 1000)))
    end
  elseif cost > limit then c.retry = -1
  else
    local need = limit - cost
    if cur <= need then
      -- the previous window's share decays far enough within this window
      c.retry = math.ceil(window * (1 - (need - cur) / prev)) - elapsed
    else
      -- this window's count must itself decay, as the next window's "previous"
      c.retry = window - elapsed + math.ceil(window * (1 - need / cur))
    end
    c.retry = math.max(1, c.retry)
  end
  return c
end

-- GCRA (the token bucket as one timestamp): the key holds the theoretical
-- arrival time (TAT). Each unit of cost pushes the TAT one emission interval
-- (window / limit) ahead; a request fits while the TAT stays within the burst
-- tolerance of now. The TAT is rounded up so rounding can only ever refuse,
-- never admit, an extra request.
local function gcra(key, limit, window, cost, burst, token, now)
  local interval = window / limit
  local tolerance = interval * burst
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - tolerance
  local c = {ok = now >= allow_at, retry = 0, reset = tat - now,
             before = math.max(0, math.floor((now - (tat - tolerance)) / interval))}
  if c.ok then
    new_tat = math.ceil(new_tat)
    c.after = math.floor((now - allow_at) / interval)
    c.reset_if = new_tat - now
    c.commit = function()
      redis.call('SET', key, int(new_tat), 'PX', int(math.max(1, math.ceil((new_tat - now) / 1000))))
    end
  elseif interval * cost > tolerance then c.retry = -1
  else c.retry = math.ceil(allow_at - now) end
  return c
end

-- Fixed window aligned to the epoch: the key is a hash {window number: count},
-- so a count never leaks into the next window even by a millisecond.
local function fixed_window(key, limit, window, cost, burst, token, now)
  local w = int(math.floor(now / window))
  local used = tonumber(redis.call('HGET', key, w) or '0')
  local left = window - (now % window)
  local c = {ok = used + cost <= limit, before = math.max(0, limit - used),
             after = limit - used - cost, retry = 0, reset_if = left, reset = 0}
  if used > 0 then c.reset = left end
  if c.ok then
    c.commit = function()
      if used == 0 then redis.call('DEL', key) end
      redis.call('HINCRBY', key, w, cost)
      redis.call('PEXPIRE', key, int(math.ceil(left / 1000)))
    end
  elseif cost > limit then c.retry = -1
  else c.retry = left end
  return c
end

local STRATEGIES = {sliding_log = sliding_log, sliding_window = sliding_window,
                    gcra = gcra, fixed_window = fixed_window}
"""

RATE_LIMIT = Script(_PRELUDE + _RATE_PRELUDE + """
local now = now_us()
local hit, cost, token = ARGV[1] == 'hit', tonumber(ARGV[2]), ARGV[3]
local checks, all = {}, true
for i, key in ipairs(KEYS) do
  local b = 3 + (i - 1) * 4
  local c = STRATEGIES[ARGV[b + 1]](key, tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), cost,
                                    tonumber(ARGV[b + 4]), token, now)
  checks[i] = c
  all = all and c.ok
end
local out = {}
for _, c in ipairs(checks) do
  if hit and all then
    c.commit()
    out[#out + 1] = {1, c.after, 0, c.reset_if}
  else
    out[#out + 1] = {c.ok and 1 or 0, c.before, c.retry, c.reset}
  end
end
return out
""")

# ------------------------------------------------------------------ sessions
# A session is a hash; fields starting with ':' are ours (':created', ':expires'
# absolute deadline in ms, ':user', '' when unbound). Every operation checks the
# hash exists first and never creates it, so nothing can bring a destroyed or
# expired session back to life. Activity slides the TTL, capped by the absolute
# deadline. Scripts that follow a session to its user's index (or the index to
# its sessions) get the store's base key in ARGV and build the other keys from
# it: they all carry the store's hash tag, so they live in the script's slot.

_SESSION_PRELUDE = """
local function now_ms() return math.floor(now_us() / 1000) end
-- Slide the TTL: min(idle, time left before the absolute deadline).
local function refresh(key, idle)
  local left = tonumber(redis.call('HGET', key, ':expires')) - now_ms()
  if idle > 0 and idle < left then left = idle end
  if left <= 0 then redis.call('DEL', key) return false end
  redis.call('PEXPIRE', key, int(left))
  return true
end
-- Index the session under its user, scored by its absolute deadline, forget
-- sessions past theirs, and let the index expire with its last session.
local function index(idx, sid, deadline)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', int(now_ms()))
  redis.call('ZADD', idx, deadline, sid)
  local last = redis.call('ZRANGE', idx, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', idx, last[2])
end
-- A login carrying the user's generation as read before it authenticated is
-- refused once the user has been logged out everywhere since ('' = no check).
local function stale(gen_key, expected)
  return expected ~= '' and (redis.call('GET', gen_key) or '0') ~= expected
end
"""


def _session_script(body: str) -> Script:
    return Script(_PRELUDE + _SESSION_PRELUDE + body)


# KEYS[1] session, KEYS[2] user index, KEYS[3] user generation (both unused
# without a user); ARGV: idle ms, absolute ms, user, sid, generation, then
# field/value pairs. 1 created, 0 id taken (the caller draws another), -3 stale.
SESSION_CREATE = _session_script("""
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[3] ~= '' and stale(KEYS[3], ARGV[5]) then return -3 end
local deadline = now_ms() + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ':created', int(now_ms()), ':expires', int(deadline),
           ':user', ARGV[3], unpack(ARGV, 6))
refresh(KEYS[1], tonumber(ARGV[1]))
if ARGV[3] ~= '' then index(KEYS[2], ARGV[4], deadline) end
return 1
""")

# KEYS[1]; ARGV[1] idle ms, ARGV[2..] fields (none: all). nil if gone.
SESSION_GET = _session_script("""
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if not refresh(KEYS[1], tonumber(ARGV[1])) then return false end
if #ARGV == 1 then return redis.call('HGETALL', KEYS[1]) end
return redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
""")

# KEYS[1]; ARGV[1] idle ms, ARGV[2] 'set' | 'del' | 'incr' | 'touch' | 'update',
# ARGV[3..] args ('update': how many fields to delete, those names, then
# field/value pairs to set: a request's changes land together or not at all).
SESSION_UPDATE = _session_script("""
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local r = 1
if ARGV[2] == 'set' then redis.call('HSET', KEYS[1], unpack(ARGV, 3))
elseif ARGV[2] == 'del' then r = redis.call('HDEL', KEYS[1], unpack(ARGV, 3))
elseif ARGV[2] == 'incr' then r = redis.call('HINCRBY', KEYS[1], ARGV[3], ARGV[4])
elseif ARGV[2] == 'update' then
  local ndel = tonumber(ARGV[3])
  if ndel > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 4, 3 + ndel)) end
  if #ARGV > 3 + ndel then redis.call('HSET', KEYS[1], unpack(ARGV, 4 + ndel)) end
end
if not refresh(KEYS[1], tonumber(ARGV[1])) then return false end
return r
""")

# Move a session to a new id (against session fixation) and/or bind it to a
# user. KEYS[1] old, KEYS[2] new (the same key: bind without moving); ARGV: base,
# old sid, new sid, user to bind ('' keep), idle ms, generation.
# 1 done, 0 old session gone, -1 new id taken, -2 bound to another user, -3 stale.
SESSION_REGENERATE = _session_script("""
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local moving = KEYS[1] ~= KEYS[2]
if moving and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local user = redis.call('HGET', KEYS[1], ':user') or ''
if ARGV[4] ~= '' and user ~= '' and user ~= ARGV[4] then return -2 end
local bind = user
if ARGV[4] ~= '' then bind = ARGV[4] end
if bind ~= '' and stale(ARGV[1] .. ':g:' .. bind, ARGV[6]) then return -3 end
if moving then redis.call('RENAME', KEYS[1], KEYS[2]) end
if user ~= '' then redis.call('ZREM', ARGV[1] .. ':u:' .. user, ARGV[2]) end
redis.call('HSET', KEYS[2], ':user', bind)
if not refresh(KEYS[2], tonumber(ARGV[5])) then return 0 end
if bind ~= '' then
  index(ARGV[1] .. ':u:' .. bind, ARGV[3], tonumber(redis.call('HGET', KEYS[2], ':expires')))
end
return 1
""")

# KEYS[1] session; ARGV[1] base, ARGV[2] sid. 1 destroyed, 0 already gone.
SESSION_DESTROY = _session_script("""
local user = redis.call('HGET', KEYS[1], ':user')
if not user then return 0 end
redis.call('DEL', KEYS[1])
if user ~= '' then redis.call('ZREM', ARGV[1] .. ':u:' .. user, ARGV[2]) end
return 1
""")

# Log out everywhere, in one step: KEYS[1] user index, KEYS[2] user generation;
# ARGV[1] base, ARGV[2] how long (ms) to keep the generation. Deletes every
# session in the index and bumps the generation, so logins that read the old
# one are refused from now on. A login is either before this script (indexed,
# so deleted here) or after it: none can fall in between. Returns how many
# sessions were deleted.
SESSION_DESTROY_ALL = _session_script("""
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. ':s:' .. sid)
end
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return n
""")

# --------------------------------------------------------------- leaderboards

# Member data lives in a hash beside the board (KEYS[2]), one field per member;
# every script that removes a member or the board removes its data too, and
# the hash always carries the board's expiry.
_BOARD_PRELUDE = """
local function same_expiry(board, data)
  local t = redis.call('PTTL', board)
  if t > 0 then redis.call('PEXPIRE', data, t) end
end
"""


def _board_script(body: str) -> Script:
    return Script(_PRELUDE + _BOARD_PRELUDE + body)


# KEYS[1] board, KEYS[2] data; ARGV[1] PEXPIREAT ms (0: none), ARGV[2] ZADD
# flags ('GT LT NX XX'), ARGV[3] mode: 'score' (one pair, returns its score),
# 'count' (returns ZADD's count), 'incr' (one pair, returns the new score or nil
# if GT/LT refused); ARGV[4] n, then n member/data pairs, then score/member
# pairs. Adding and setting the board's expiry is one step, so a rotating board
# can never be left without its expiry. Data is written only for members that
# are on the board afterwards (NX/XX may have refused them).
LEADERBOARD_ADD = _board_script("""
local nd = tonumber(ARGV[4])
local first = 5 + 2 * nd
local cmd = {'ZADD', KEYS[1]}
for flag in string.gmatch(ARGV[2], '%a+') do cmd[#cmd + 1] = flag end
if ARGV[3] == 'incr' then cmd[#cmd + 1] = 'INCR' end
for i = first, #ARGV do cmd[#cmd + 1] = ARGV[i] end
local r = redis.call(unpack(cmd))
for i = 5, first - 1, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
if ARGV[1] ~= '0' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
  redis.call('PEXPIREAT', KEYS[2], ARGV[1])
elseif nd > 0 then same_expiry(KEYS[1], KEYS[2]) end
if ARGV[3] == 'score' then return redis.call('ZSCORE', KEYS[1], ARGV[first + 1]) end
return r
""")

# KEYS[1] board, KEYS[2] data; ARGV members. Removes them and their data.
LEADERBOARD_REMOVE = _board_script("""
local n = redis.call('ZREM', KEYS[1], unpack(ARGV))
redis.call('HDEL', KEYS[2], unpack(ARGV))
return n
""")

# KEYS[1] board, KEYS[2] data; ARGV[1] member, ARGV[2] data. 0 if not on the board.
LEADERBOARD_SET_DATA = _board_script("""
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
same_expiry(KEYS[1], KEYS[2])
return 1
""")

# KEYS[1] board, KEYS[2] data; ARGV[1] ms: both expire together (PEXPIRE).
LEADERBOARD_EXPIRE = _board_script("""
local r = redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return r
""")

# For each member ARGV[2..]: {score or '', position or -1}; ARGV[1] '1' when
# higher scores rank first. One consistent read of many members.
LEADERBOARD_RANKED_IN_LIST = _board_script("""
local out = {}
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s then
    local pos
    if ARGV[1] == '1' then pos = redis.call('ZREVRANK', KEYS[1], ARGV[i])
    else pos = redis.call('ZRANK', KEYS[1], ARGV[i]) end
    out[#out + 1] = {s, pos}
  else out[#out + 1] = {'', -1} end
end
return out
""")

# Members with scores in [ARGV[1], ARGV[2]] (ZRANGEBYSCORE bounds), ARGV[3]
# offset, ARGV[4] count (-1: all), ARGV[5] '1' descending: {position of the
# first, member, score, ...}. In board order, the first member of a score range
# comes right after every member with a better score.
LEADERBOARD_SCORE_RANGE = _board_script("""
local lo, hi, off, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local r, first
if ARGV[5] == '1' then
  r = redis.call('ZREVRANGEBYSCORE', KEYS[1], hi, lo, 'WITHSCORES', 'LIMIT', off, n)
  first = redis.call('ZCOUNT', KEYS[1], '(' .. hi, '+inf')
else
  r = redis.call('ZRANGEBYSCORE', KEYS[1], lo, hi, 'WITHSCORES', 'LIMIT', off, n)
  first = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. lo)
end
table.insert(r, 1, first + off)
return r
""")

# Merge boards into KEYS[1] (data KEYS[2]); KEYS[3..] source board/data pairs.
# ARGV[1] 'union' | 'inter', ARGV[2] aggregate, ARGV[3] PEXPIREAT (0: none),
# ARGV[4..] weights. Each member of the result keeps the data of the first
# source that has some. Returns the size of the result.
LEADERBOARD_MERGE = _board_script("""
local boards, datas = {}, {}
for i = 3, #KEYS, 2 do boards[#boards + 1] = KEYS[i]; datas[#datas + 1] = KEYS[i + 1] end
local cmd = {ARGV[1] == 'union' and 'ZUNIONSTORE' or 'ZINTERSTORE', KEYS[1], #boards}
for _, b in ipairs(boards) do cmd[#cmd + 1] = b end
if #ARGV > 3 then
  cmd[#cmd + 1] = 'WEIGHTS'
  for i = 4, #ARGV do cmd[#cmd + 1] = ARGV[i] end
end
cmd[#cmd + 1] = 'AGGREGATE'
cmd[#cmd + 1] = ARGV[2]
local data, seen = {}, {}
for _, d in ipairs(datas) do
  local kv = redis.call('HGETALL', d)
  for i = 1, #kv, 2 do
    if not seen[kv[i]] then seen[kv[i]] = true; data[#data + 1] = kv[i]; data[#data + 1] = kv[i + 1] end
  end
end
local n = redis.call(unpack(cmd))
redis.call('DEL', KEYS[2])
for i = 1, #data, 2 do
  if redis.call('ZSCORE', KEYS[1], data[i]) then redis.call('HSET', KEYS[2], data[i], data[i + 1]) end
end
if ARGV[3] ~= '0' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
end
return n
""")

# Everything rank-related about ARGV[1], in one consistent read: {score,
# ordinal position (0-based), members strictly better, members with an equal
# score, total, distinct better scores or -1}. ARGV[2] '1' when higher scores
# rank first; ARGV[3] '1' to count distinct better scores (O(better members)).
LEADERBOARD_RANK = _script("""
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s then return false end
local desc = ARGV[2] == '1'
local pos, better
if desc then
  pos = redis.call('ZREVRANK', KEYS[1], ARGV[1])
  better = redis.call('ZCOUNT', KEYS[1], '(' .. s, '+inf')
else
  pos = redis.call('ZRANK', KEYS[1], ARGV[1])
  better = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. s)
end
local equal = redis.call('ZCOUNT', KEYS[1], s, s)
local distinct = -1
if ARGV[3] == '1' then
  local scores
  if desc then scores = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. s, '+inf', 'WITHSCORES')
  else scores = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. s, 'WITHSCORES') end
  distinct = 0
  local last = nil
  for i = 2, #scores, 2 do
    if scores[i] ~= last then distinct = distinct + 1; last = scores[i] end
  end
end
return {s, pos, better, equal, redis.call('ZCARD', KEYS[1]), distinct}
""")

# Members around ARGV[1]: ARGV[2] on each side, as {first position, member,
# score, ...}, read in one step so the member cannot move in between.
LEADERBOARD_AROUND = _script("""
local desc = ARGV[3] == '1'
local pos
if desc then pos = redis.call('ZREVRANK', KEYS[1], ARGV[1])
else pos = redis.call('ZRANK', KEYS[1], ARGV[1]) end
if not pos then return false end
local n = tonumber(ARGV[2])
local first = math.max(0, pos - n)
local r
if desc then r = redis.call('ZREVRANGE', KEYS[1], first, pos + n, 'WITHSCORES')
else r = redis.call('ZRANGE', KEYS[1], first, pos + n, 'WITHSCORES') end
table.insert(r, 1, first)
return r
""")
