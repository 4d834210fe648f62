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
  local r = redis.call('HMGET', rkey, 'a', 'p', 'c', 'i', 'x')
  if r[5] then return 0 end  -- refunded, or given up on, already
  if r[1] then acct, ps, cost, idem = r[1], r[2], tonumber(r[3]), r[4] end
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
    if redis.call('HGET', ikey, 'r') == rid then redis.call('DEL', ikey) end
  end
end
if rid ~= '' then
  redis.call('DEL', rkey)
  redis.call('HSET', rkey, 'x', '1')
  redis.call('PEXPIRE', rkey, ARGV[3])
end
return 1
