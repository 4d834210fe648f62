-- tiergate: keep an Idempotency-Key's first response, for its replays.
-- ARGV  ns, account, idempotency key hash, request_id, response ('' when not kept), ttl_ms
-- Returns 1 when kept, 0 when the record is not this request's any more (it stayed in flight
-- longer than its TTL). Asked twice, it writes the same again.
local ikey = ARGV[1] .. ':a:' .. ARGV[2] .. ':i:' .. ARGV[3]
-- Only the record this request created: an expired one may have been taken over since.
if redis.call('HGET', ikey, 'r') ~= ARGV[4] then return 0 end
if ARGV[5] == '' then
  redis.call('HSET', ikey, 's', 'n')  -- too large to keep: its replays are told so
else
  redis.call('HSET', ikey, 's', 'd', 'v', ARGV[5])
end
redis.call('PEXPIRE', ikey, ARGV[6])
return 1
