-- Replace the snapshot (compare-and-swap). ARGV: token digest, covers, replaces, snapshot,
-- max bytes.
-- Answers {'ok'} | {'not_found'} | {'gone'} | {'wrong_token'} | {'stale', covers} |
-- {'not_after'} | {'past_last', last_seq} | {'full', bytes, records, bytes after, records after}.
local meta = redis.call('HMGET', KEYS[1], 'token', 'removed', 'last_seq', 'bytes', 'records',
  'covers')
if not meta[1] then
  return {'not_found'}
end
if meta[2] == '1' then
  return {'gone'}
end
if meta[1] ~= ARGV[1] then
  return {'wrong_token'}
end
local covers, replaces = ARGV[2], ARGV[3]
if meta[6] ~= replaces then
  return {'stale', tonumber(meta[6])}
end
if not greater(covers, replaces) then
  return {'not_after'}
end
if greater(covers, meta[3]) then
  return {'past_last', tonumber(meta[3])}
end
-- covers <= last_seq: small enough to count with.
local old, new = tonumber(replaces), tonumber(covers)
local freed = redis.call('STRLEN', KEYS[3])
for seq = old + 1, new do
  freed = freed + redis.call('HSTRLEN', KEYS[2], field(seq))
end
local bytes, records = tonumber(meta[4]), tonumber(meta[5])
local bytes_after = math.max(0, bytes + #ARGV[4] - freed)
local records_after = math.max(0, records - (new - old))
-- Within the quota, or smaller than before: a snapshot that frees space is always taken.
if bytes_after > tonumber(ARGV[5]) and bytes_after >= bytes then
  return {'full', bytes, records, bytes_after, records_after}
end
-- The covered records go, in batches (unpack has a limit on how many values it takes).
local batch = {}
for seq = old + 1, new do
  batch[#batch + 1] = field(seq)
  if #batch == 1000 or seq == new then
    redis.call('HDEL', KEYS[2], unpack(batch))
    batch = {}
  end
end
redis.call('SET', KEYS[3], ARGV[4])
redis.call('HSET', KEYS[1], 'covers', covers, 'bytes', field(bytes_after),
  'records', field(records_after))
return {'ok'}
