-- tiergate: give back what one request was charged, exactly once, and forget its
-- Idempotency-Key; then leave a tombstone, so that a late copy of its first call charges
-- nothing. Mirrors MemoryStore.refund.
-- ARGV  ns, request_id, request_ttl_ms, then what the verdict said (account,
--       period_start_ms, cost, idempotency key hash), or nothing when its answer was lost:
--       the request's record, if its call ran, tells
local ns, rid = ARGV[1], ARGV[2]
local rkey = ns .. ':r:' .. rid
local acct, ps, cost, idem = ARGV[4] or '', ARGV[5] or '0', tonumber(ARGV[6] or '0'), ARGV[7] or ''
if rid ~= '' then
  local record = redis.call('GET', rkey)
  if record == 'x' then return 0 end  -- refunded, or given up on, already
  if record then  -- '<charge> <key hash held, or ->\n<numbers>\n<tier>\n<status>\n<account>'
    local charge, held, numbers, account =
      string.match(record, '^(%d+) (%S+)\n([^\n]*)\n[^\n]*\n[^\n]*\n(.*)$')
    local n = {}
    for d in string.gmatch(numbers, '%d+') do n[#n + 1] = d end
    acct, ps, cost, idem = account, n[7], tonumber(charge), held == '-' and '' or held
  end
end
if acct ~= '' then
  local akey = ns .. ':a:' .. acct
  local qkey = akey .. ':q:' .. ps
  if cost > 0 and redis.call('EXISTS', qkey) == 1 then
    if redis.call('DECRBY', qkey, cost) < 0 then redis.call('SET', qkey, '0', 'KEEPTTL') end
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
