-- tiergate: keep an Idempotency-Key's first response, for its replays.
-- ARGV  ns, account, idempotency key hash, request_id, response ('' when not kept), ttl_ms
local ikey = ARGV[1] .. ':a:' .. ARGV[2] .. ':i:' .. ARGV[3]
-- Only the record this request created: an expired one may have been taken over since.
if redis.call('HGET', ikey, 'r') ~= ARGV[4] then return 0 end
if ARGV[5] == '' then
  redis.call('HSET', ikey, 's', 'n')  -- too large to keep: its replays are told so
else
  redis.call('HSET', ikey, 's', 'd', 'v', ARGV[5])
end
redis.call('HDEL', ikey, 'r')
redis.call('PEXPIRE', ikey, ARGV[6])
return 1
