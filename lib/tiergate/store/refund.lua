-- tiergate: give back a non-billable request's quota and forget its Idempotency-Key.
-- ARGV  ns, account, period_start_ms, cost, idempotency_key
local akey = ARGV[1] .. ':a:' .. ARGV[2]
local qkey = akey .. ':q:' .. ARGV[3]
local cost = tonumber(ARGV[4])
if cost > 0 and redis.call('EXISTS', qkey) == 1 then
  if redis.call('DECRBY', qkey, cost) < 0 then redis.call('SET', qkey, '0', 'KEEPTTL') end
end
if ARGV[5] ~= '' then redis.call('DEL', akey .. ':i:' .. ARGV[5]) end
return 1
