-- tiergate: the whole admission decision in one atomic call.
-- Mirrors tiergate/decision.py line for line; the contract suite holds both to one answer.
--
-- KEYS[1]  the key's hot record: <ns>:k:<digest>
--          (the account's keys are derived from it: they cannot be known before it is read)
-- ARGV     ns, now_ms, min_rank, feature, cost, idempotency key hash ('' without one),
--          month_start_ms, month_end_ms, fingerprint, request_id, inflight_ttl_ms
-- Returns  {code, account, tier, status, burst, burst_remaining, burst_reset_ms,
--           limit, used, period_start_ms, period_end_ms, retry_after_ms[, kept response]}
local ns = ARGV[1]
local now = tonumber(ARGV[2])
local min_rank = tonumber(ARGV[3])
local feature = ARGV[4]
local cost = tonumber(ARGV[5])
local idem = ARGV[6]

local function int(n) return string.format('%.0f', n) end
local function ceil_ms(us) return math.ceil(us / 1000) end

local key = redis.call('HMGET', KEYS[1], 'a', 'v', 'x')
if not key[1] then return {2} end
local acct = key[1]
if acct == '' then return {4} end
local expires = tonumber(key[3]) or 0
if key[2] == '1' or (expires > 0 and now >= expires) then return {5, acct} end

local akey = ns .. ':a:' .. acct
local s = redis.call('HMGET', akey, 't', 'r', 's', 'l', 'b', 'ps', 'pe', 'sa', 'f')
if not s[1] then return {3, acct} end
local tier, rank, status = s[1], tonumber(s[2]), s[3]
local limit, burst = tonumber(s[4]), tonumber(s[5])
local ps, pe, suspend_at = tonumber(s[6]), tonumber(s[7]), tonumber(s[8])

-- The subscription's period, else the calendar month; an ended period rolls forward.
if ps <= 0 or pe <= ps then
  ps, pe = tonumber(ARGV[7]), tonumber(ARGV[8])
elseif now >= pe then
  local len = pe - ps
  ps = ps + math.floor((now - ps) / len) * len
  pe = ps + len
end
local qkey = akey .. ':q:' .. int(ps)
local used = tonumber(redis.call('GET', qkey) or '0')

local function verdict(code, remaining, reset_ms, used_after, retry_ms, response)
  return {code, acct, tier, status, burst, remaining, reset_ms, limit, used_after,
          ps, pe, retry_ms, response}
end

local suspended = {unpaid = true, canceled = true, paused = true, incomplete = true,
                   incomplete_expired = true}
if suspended[status] or (suspend_at > 0 and now >= suspend_at) then
  return verdict(6, burst, 0, used, 0)
end
if rank < min_rank then return verdict(7, burst, 0, used, 0) end
if feature ~= '' and not string.find(s[9], ',' .. feature .. ',', 1, true) then
  return verdict(8, burst, 0, used, 0)
end

-- The Idempotency-Key's record: another request's, one still running, or a kept response.
local ikey = akey .. ':i:' .. idem
local held = nil
if idem ~= '' then
  local h = redis.call('HMGET', ikey, 'f', 's', 'v')
  if h[1] then
    if h[1] ~= ARGV[9] then return verdict(11, burst, 0, used, 0) end
    if h[2] == 'p' then return verdict(12, burst, 0, used, 0) end
    if h[2] ~= 'd' then return verdict(13, burst, 0, used, 0) end
    held = h[3]
  end
end

-- GCRA, in integer microseconds.
local bkey = akey .. ':b'
local now_us = now * 1000
local interval = math.floor(1000000 / burst)
local capacity = interval * burst
local stored = tonumber(redis.call('GET', bkey) or '0')
local tat = math.max(stored, now_us) + interval
local wait = tat - now_us - capacity
if wait > 0 then
  return verdict(9, 0, ceil_ms(tat - interval - now_us), used, ceil_ms(wait))
end
local remaining = math.floor((capacity - (tat - now_us)) / interval)
local reset_ms = ceil_ms(tat - now_us)
-- A second of slack past the full refill: callers' clocks may trail one another a little.
if held then  -- a replay spends a burst token (a retry storm is a storm) and no quota
  redis.call('SET', bkey, int(tat), 'PX', reset_ms + 1000)
  return verdict(1, remaining, reset_ms, used, 0, held)
end
if used + cost > limit then
  return verdict(10, remaining, reset_ms, used, pe - now)
end

-- Every check passed: only now is anything consumed.
redis.call('SET', bkey, int(tat), 'PX', reset_ms + 1000)
if cost > 0 then
  used = redis.call('INCRBY', qkey, cost)
  if used == cost then redis.call('PEXPIRE', qkey, pe - now + 86400000) end
end
if idem ~= '' then  -- in flight, owned by this request, until the endpoint has answered
  redis.call('HSET', ikey, 'f', ARGV[9], 's', 'p', 'r', ARGV[10])
  redis.call('PEXPIRE', ikey, ARGV[11])
end
return verdict(0, remaining, reset_ms, used, 0)
