-- tiergate: the whole admission decision in one atomic call.
-- Mirrors tiergate/decision.py line for line, and the request record of store/memory.py;
-- the contract suite holds them to one answer.
--
-- KEYS[1]  the key's hot record: <ns>:k:<digest>
--          (the account's keys are derived from it: they cannot be known before it is read)
-- ARGV     ns, now_ms ('' : Redis TIME), min_rank, feature, cost, idempotency key hash
--          ('' without one), fingerprint, request_id ('' : none), retry ('1' when an earlier
--          call with this id may have run), inflight_ttl_ms, request_ttl_ms, route
-- Returns  one string, the verdict:
--            '<code> <burst> <burst_remaining> <burst_reset_ms> <limit> <used>
--             <period_start_ms> <period_end_ms> <retry_after_ms> <now_ms> <overage_cap>'
--            '\n<tier>\n<status>\n<account>'
--          and when a response was kept or alerts were crossed, two more numbers-line fields
--          ' <#kept response> <alerts crossed>' and the kept response before the account
--          ('\n<tier>\n<status>\n<response><account>'); the account, the one free-form
--          field, is always last. A request id decided before gets its recorded verdict (the
--          same shape, as it was recorded); '14' alone for one given up on.
--
-- Past `limit` an overage tier admits up to `limit + cap` units; the units past `limit` are
-- counted per period and meter (<acct>:o:<ps>:<meter>), and the period is listed in <ns>:m
-- for the meter push. Usage alerts fire once per period: <acct>:n:<ps> holds the highest
-- threshold fired, and each crossing is queued on <ns>:al for delivery.
--
-- Time is Redis's own (TIME), so no caller's clock, however skewed or delayed, can matter;
-- that needs effects replication, the default since Redis 5. Tests pass their fake clock's.
local ns = ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local min_rank = tonumber(ARGV[3])
local feature = ARGV[4]
local cost = tonumber(ARGV[5])
local idem = ARGV[6]
local rid = ARGV[8]
local retry = ARGV[9] == '1'
local route = ARGV[12] or ''

local function int(n) return string.format('%.0f', n) end
local function ceil_ms(us) return math.ceil(us / 1000) end

-- The UTC calendar month holding `ms` (periods.calendar_month: Hinnant's civil_from_days).
local function calendar_month(ms)
  local days = math.floor(ms / 86400000)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                          - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  local length = 30 + (month + math.floor(month / 8)) % 2
  if month == 2 then
    local leap = year % 4 == 0 and (year % 100 ~= 0 or year % 400 == 0)
    length = leap and 29 or 28
  end
  local start = days - (day - 1)
  return start * 86400000, (start + length) * 86400000
end

-- The request id: a call whose answer was lost is asked again with it, and gets the first
-- decision back instead of a second charge; after a refund it finds a tombstone and does
-- nothing, however late it runs.
-- Its record is 'x' (a tombstone), or
-- '<charge> <key hash held, or -> <overage part> <meter, or ->\n<route>\n<verdict>'.
local rkey = ns .. ':r:' .. rid
if rid ~= '' then
  local seen = redis.call('GET', rkey)
  if seen == 'x' then return '14' end
  if seen then
    local verdict_at = string.find(seen, '\n', string.find(seen, '\n', 1, true) + 1, true)
    return string.sub(seen, verdict_at + 1)
  end
end

local acct, tier, status, burst, limit, ps, pe, cap, meter = '', '', '', 0, 0, 0, 0, 0, ''
local over, alerts = 0, ''

-- The reply; recorded under the request id when it charged or holds an Idempotency-Key, or
-- when it settles a retry (a late first call must then find it and change nothing). One
-- formatted line of numbers: the record is the reply, bar what only the reply carries.
local function verdict(code, remaining, reset_ms, used_after, retry_ms, charge, held, response)
  local numbers = string.format('%.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f', code,
                                burst, remaining, reset_ms, limit, used_after, ps, pe, retry_ms,
                                now, cap)
  local fields = '\n' .. tier .. '\n' .. status .. '\n'
  if rid ~= '' and (charge > 0 or held or (retry and code >= 4)) then
    local head = string.format('%.0f %s %.0f %s\n', charge, held and idem or '-',
                               charge > 0 and over or 0, meter == '' and '-' or meter)
    redis.call('SET', rkey, head .. route .. '\n' .. numbers .. fields .. acct, 'PX', ARGV[11])
  end
  if alerts == '' and not response then return numbers .. fields .. acct end
  response = response or ''
  return numbers .. ' ' .. #response .. ' ' .. alerts .. fields .. response .. acct
end

local key = redis.call('HMGET', KEYS[1], 'a', 'v', 'x')
if not key[1] then return verdict(2, 0, 0, 0, 0, 0, false) end
if key[1] == '' then return verdict(4, 0, 0, 0, 0, 0, false) end
acct = key[1]
local expires = tonumber(key[3]) or 0
if key[2] == '1' or (expires > 0 and now >= expires) then
  return verdict(5, 0, 0, 0, 0, 0, false)
end

local akey = ns .. ':a:' .. acct
local s = redis.call('HMGET', akey, 't', 'r', 's', 'l', 'b', 'ps', 'pe', 'sa', 'f', 'oc', 'm',
                     'al')
if not s[1] then return verdict(3, 0, 0, 0, 0, 0, false) end
cap, meter = tonumber(s[10]) or 0, s[11] or ''
local thresholds = s[12] or ''  -- '<units>:<label>,...' ascending (hotstate.usage_alerts)
tier, status = s[1], s[3]
local rank = tonumber(s[2])
limit, burst = tonumber(s[4]), tonumber(s[5])
ps, pe = tonumber(s[6]), tonumber(s[7])
local suspend_at = tonumber(s[8])

-- The subscription's period, else the calendar month; an ended period rolls forward.
if ps <= 0 or pe <= ps then
  ps, pe = calendar_month(now)
elseif now >= pe then
  local len = pe - ps
  ps = ps + math.floor((now - ps) / len) * len
  pe = ps + len
end
local ps_text = int(ps)
local qkey = akey .. ':q:' .. ps_text
-- The quota used and the bucket as it stands (GCRA, in integer microseconds), in one read.
local bkey = akey .. ':b'
local counters = redis.call('MGET', qkey, bkey)
local used = tonumber(counters[1] or '0')
local now_us = now * 1000
local interval = math.floor(1000000 / burst)
local capacity = interval * burst
local stored = tonumber(counters[2] or '0')
local full_at = math.max(stored, now_us)
local left = math.max(0, math.floor((capacity - (full_at - now_us)) / interval))
local full_in = ceil_ms(full_at - now_us)

local suspended = {unpaid = true, canceled = true, paused = true, incomplete = true,
                   incomplete_expired = true}
if suspended[status] or (suspend_at > 0 and now >= suspend_at) then
  return verdict(6, left, full_in, used, 0, 0, false)
end
if rank < min_rank then return verdict(7, left, full_in, used, 0, 0, false) end
if feature ~= '' and not string.find(s[9], ',' .. feature .. ',', 1, true) then
  return verdict(8, left, full_in, used, 0, 0, false)
end

-- The Idempotency-Key's record: another request's, one still running, or a kept response.
-- '<state> <fingerprint> <request id>', and for a kept one '\n<response>' after it.
local ikey = akey .. ':i:' .. idem
local held = nil
if idem ~= '' then
  local h = redis.call('GET', ikey)
  if h then
    local state, fingerprint = string.match(h, '^(%a) (%S+)')
    if fingerprint ~= ARGV[7] then return verdict(11, left, full_in, used, 0, 0, false) end
    if state == 'p' then return verdict(12, left, full_in, used, 0, 0, false) end
    if state ~= 'd' then return verdict(13, left, full_in, used, 0, 0, false) end
    held = string.sub(h, string.find(h, '\n', 1, true) + 1)
  end
end

-- One more request against the bucket.
local tat = full_at + interval
local wait = tat - now_us - capacity
if wait > 0 then
  return verdict(9, left, full_in, used, ceil_ms(wait), 0, false)
end
local remaining = math.floor((capacity - (tat - now_us)) / interval)
local reset_ms = ceil_ms(tat - now_us)
-- The TAT expires a second after the bucket is full again: TTLs run on Redis's clock, which
-- in tests is not the clock that decides.
if held then  -- a replay spends a burst token (a retry storm is a storm) and no quota
  redis.call('SET', bkey, int(tat), 'PX', reset_ms + 1000)
  return verdict(1, remaining, reset_ms, used, 0, 0, false, held)
end
-- Usage alerts crossed moving from `before` to `after` units (decision.crossed): the mark is
-- read only when a threshold lies in (before, after], so almost no request reads it.
local function fire(before, after)
  local due, mark = {}, 0
  for units, label in string.gmatch(thresholds, '(%d+):([^,]+)') do
    units = tonumber(units)
    if before < units and units <= after then due[#due + 1] = {units, label} end
  end
  if #due == 0 then return end
  local nkey = akey .. ':n:' .. ps_text
  local fired = tonumber(redis.call('GET', nkey) or '0')
  local labels = {}
  for _, d in ipairs(due) do
    if d[1] > fired then
      labels[#labels + 1] = d[2]
      mark = math.max(mark, d[1])
    end
  end
  if mark == 0 then return end
  alerts = table.concat(labels, ',')
  redis.call('SET', nkey, int(mark), 'PX', pe - now + 86400000)
  for _, label in ipairs(labels) do  -- account last: the one free-form field
    redis.call('RPUSH', ns .. ':al', table.concat({label, int(used), int(limit), ps_text,
                                                   int(pe), int(now), tier, acct}, '\n'))
  end
end

local ceiling = limit + cap
if used + cost > ceiling then
  -- Blocked until the period ends: the ceiling's own alert is due once usage has passed
  -- every lower one (decision.decide).
  local below = ceiling
  for units in string.gmatch(thresholds, '(%d+):') do
    units = tonumber(units)
    if units < ceiling then below = units end  -- ascending: the last one below wins
  end
  -- At the ceiling itself the request that reached it fired it: nothing to read on a flood.
  if below <= used and used < ceiling then fire(ceiling - 1, ceiling) end
  return verdict(10, left, full_in, used, pe - now, 0, false)
end

-- Every check passed: only now is anything consumed.
redis.call('SET', bkey, int(tat), 'PX', reset_ms + 1000)
if cost > 0 then
  local before = used
  used = redis.call('INCRBY', qkey, cost)
  if used == cost then redis.call('PEXPIRE', qkey, pe - now + 86400000) end
  if route ~= '' then
    local ukey = akey .. ':u:' .. ps_text
    if redis.call('HINCRBY', ukey, route, cost) == cost then
      redis.call('PEXPIRE', ukey, pe - now + 86400000)
    end
  end
  over = math.max(0, math.min(cost, used - limit))
  if over > 0 and meter ~= '' then
    -- Kept a week past the period's end: the push sends it within the hour after.
    local okey = akey .. ':o:' .. ps_text .. ':' .. meter
    if redis.call('INCRBY', okey, over) == over then
      redis.call('PEXPIRE', okey, pe - now + 7 * 86400000)
    end
    -- On every such request, not the first only: an entry lost with the counter kept (or
    -- forgotten early) is listed again, so no counted overage goes unlisted. The period's
    -- end is the value, so a period whose end moved (a renewal landing after the gate
    -- rolled the period forward) is listed once, with its latest end.
    redis.call('HSET', ns .. ':m', ps_text .. '\n' .. meter .. '\n' .. acct, int(pe))
  end
  fire(before, used)
end
if idem ~= '' then  -- in flight, owned by this request, until the endpoint has answered
  redis.call('SET', ikey, 'p ' .. ARGV[7] .. ' ' .. rid, 'PX', ARGV[10])
end
return verdict(0, remaining, reset_ms, used, 0, cost, idem ~= '')
