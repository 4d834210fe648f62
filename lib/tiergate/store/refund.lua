-- tiergate: give back what one request was charged, exactly once, and forget its
-- Idempotency-Key; then leave a tombstone, so that a late copy of its first call charges
-- nothing. Mirrors MemoryStore.refund.
-- ARGV  ns, request_id, request_ttl_ms, then what the verdict said (account,
--       period_start_ms, cost, idempotency key hash, overage part, route, meter), or nothing
--       when its answer was lost: the request's record, if its call ran, tells
local ns, rid = ARGV[1], ARGV[2]
local rkey = ns .. ':r:' .. rid
local acct, ps, cost, idem = ARGV[4] or '', ARGV[5] or '0', tonumber(ARGV[6] or '0'), ARGV[7] or ''
local over, route, meter = tonumber(ARGV[8] or '0'), ARGV[9] or '', ARGV[10] or ''
if rid ~= '' then
  local record = redis.call('GET', rkey)
  if record == 'x' then return 0 end  -- refunded, or given up on, already
  if record then
    -- '<charge> <key hash held, or -> <overage part> <meter, or ->\n<route>\n<numbers>\n
    --  <tier>\n<status>\n<account>'
    local charge, held, part, m, r, numbers, account = string.match(record,
      '^(%d+) (%S+) (%d+) (%S+)\n([^\n]*)\n([^\n]*)\n[^\n]*\n[^\n]*\n(.*)$')
    local n = {}
    for d in string.gmatch(numbers, '%d+') do n[#n + 1] = d end
    acct, ps, cost, idem = account, n[7], tonumber(charge), held == '-' and '' or held
    over, route, meter = tonumber(part), r, m == '-' and '' or m
  end
end
if acct ~= '' then
  local akey = ns .. ':a:' .. acct
  -- Only counters that still exist: a refund must not recreate one without its TTL.
  local function give_back(name, units)
    if units > 0 and redis.call('EXISTS', name) == 1 then
      if redis.call('DECRBY', name, units) < 0 then redis.call('SET', name, '0', 'KEEPTTL') end
    end
  end
  give_back(akey .. ':q:' .. ps, cost)
  if meter == '' and over > 0 then meter = redis.call('HGET', akey, 'm') or '' end
  if meter ~= '' then give_back(akey .. ':o:' .. ps .. ':' .. meter, over) end
  if route ~= '' and cost > 0 then
    local ukey = akey .. ':u:' .. ps
    if redis.call('HEXISTS', ukey, route) == 1 and redis.call('HINCRBY', ukey, route, -cost) < 0 then
      redis.call('HSET', ukey, route, '0')
    end
  end
  -- Only the record this request created: an expired one may have been taken over since.
  if idem ~= '' then
    local ikey = akey .. ':i:' .. idem
    local held = redis.call('GET', ikey)
    if held and string.match(held, '^%a %S+ (%S*)') == rid then redis.call('DEL', ikey) end
  end
end
if rid ~= '' then redis.call('SET', rkey, 'x', 'PX', ARGV[3]) end
return 1
