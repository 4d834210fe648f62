-- tiergate: keep an Idempotency-Key's first response, for its replays.
-- ARGV  ns, account, idempotency key hash, request_id, response ('' when not kept), ttl_ms,
--       budget (bytes of responses the account may keep per ttl)
-- Returns 1 when kept, 0 when the record is not this request's any more (it stayed in flight
-- longer than its TTL). Asked twice, it writes the same again.
--
-- The budget bounds what one account can make Redis hold: each kept response counts its
-- bytes against <ns>:a:<account>:ib, a window that opens with the first one and lasts one
-- ttl, so the account's kept responses never pass two budgets at any instant. Past it the
-- response is served, billed, and not kept: its replays are told so (never run again).
local akey = ARGV[1] .. ':a:' .. ARGV[2]
local ikey = akey .. ':i:' .. ARGV[3]
local held = redis.call('GET', ikey)
if not held then return 0 end
local fingerprint, owner = string.match(held, '^%a (%S+) (%S*)')
-- Only the record this request created: an expired one may have been taken over since.
if owner ~= ARGV[4] then return 0 end
local record = fingerprint .. ' ' .. owner
local response = ARGV[5]
if response ~= '' and string.sub(held, 1, 1) == 'p' then  -- a repeat is not counted twice
  local spent = redis.call('INCRBY', akey .. ':ib', #response)
  if spent == #response then redis.call('PEXPIRE', akey .. ':ib', ARGV[6]) end
  if spent > tonumber(ARGV[7]) then
    redis.call('DECRBY', akey .. ':ib', #response)
    response = ''
  end
end
if string.sub(held, 1, 1) == 'n' then response = '' end  -- a repeat of one not kept
if response == '' then
  redis.call('SET', ikey, 'n ' .. record, 'PX', ARGV[6])  -- too large: replays are told so
else
  redis.call('SET', ikey, 'd ' .. record .. '\n' .. response, 'PX', ARGV[6])
end
return 1
