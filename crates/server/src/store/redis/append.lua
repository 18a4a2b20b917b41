-- Append a record. ARGV: token digest, record, max bytes, max records.
-- Answers {'ok', seq} | {'gone'} | {'wrong_token'} | {'full', bytes, records}.
local meta = redis.call('HMGET', KEYS[1], 'token', 'removed', 'bytes', 'records')
if meta[1] then
  -- Whatever the token: a deleted store is not created again.
  if meta[2] == '1' then
    return {'gone'}
  end
  if meta[1] ~= ARGV[1] then
    return {'wrong_token'}
  end
end
local bytes = tonumber(meta[3] or '0')
local records = tonumber(meta[4] or '0')
local len = #ARGV[2]
if records >= tonumber(ARGV[4]) or bytes + len > tonumber(ARGV[3]) then
  return {'full', bytes, records}
end
if not meta[1] then
  -- The first write creates the store and sets its token.
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'removed', '0', 'last_seq', '0',
    'bytes', '0', 'records', '0', 'covers', '0')
end
local seq = redis.call('HINCRBY', KEYS[1], 'last_seq', '1')
redis.call('HINCRBY', KEYS[1], 'bytes', field(len))
redis.call('HINCRBY', KEYS[1], 'records', '1')
redis.call('HSET', KEYS[2], field(seq), ARGV[2])
return {'ok', seq}
