-- tiergate: keep an Idempotency-Key's first response, for its replays.
-- ARGV  ns, account, idempotency key hash, request_id, response ('' when not kept), ttl_ms
-- Returns 1 when kept, 0 when the record is not this request's any more (it stayed in flight
-- longer than its TTL). Asked twice, it writes the same again.
local ikey = ARGV[1] .. ':a:' .. ARGV[2] .. ':i:' .. ARGV[3]
local held = redis.call('GET', ikey)
if not held then return 0 end
local fingerprint, owner = string.match(held, '^%a (%S+) (%S*)')
-- Only the record this request created: an expired one may have been taken over since.
if owner ~= ARGV[4] then return 0 end
local record = fingerprint .. ' ' .. owner
if ARGV[5] == '' then
  redis.call('SET', ikey, 'n ' .. record, 'PX', ARGV[6])  -- too large: replays are told so
else
  redis.call('SET', ikey, 'd ' .. record .. '\n' .. ARGV[5], 'PX', ARGV[6])
end
return 1
