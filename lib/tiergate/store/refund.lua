-- tiergate: give back a non-billable request's quota and forget its Idempotency-Key.
-- ARGV  ns, request_id, account, period_start_ms, cost, idempotency key hash
local akey = ARGV[1] .. ':a:' .. ARGV[3]
local qkey = akey .. ':q:' .. ARGV[4]
local cost = tonumber(ARGV[5])
if cost > 0 and redis.call('EXISTS', qkey) == 1 then
  if redis.call('DECRBY', qkey, cost) < 0 then redis.call('SET', qkey, '0', 'KEEPTTL') end
end
-- Only the record this request created: an expired one may have been taken over since.
if ARGV[6] ~= '' then
  local ikey = akey .. ':i:' .. ARGV[6]
  if redis.call('HGET', ikey, 'r') == ARGV[2] then redis.call('DEL', ikey) end
end
return 1
