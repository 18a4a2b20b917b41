-- Read after a sequence number. ARGV: after, the reply's byte limit, an entry's header size.
-- Answers {'ok', covers, snapshot, seq, record, seq, record, ...} (covers 0 and '' when the
-- snapshot is not part of the reply) | {'not_found'} | {'gone'} | {'broken', why}.
--
-- The records stop as the reply encoder does (a record is taken while the reply is empty or
-- stays within the limit), but the first record that does not fit is sent too: the encoder
-- sees it and writes the "more" marker, exactly as when reading from SQLite.
local meta = redis.call('HMGET', KEYS[1], 'token', 'removed', 'last_seq', 'covers')
if not meta[1] then
  return {'not_found'}
end
if meta[2] == '1' then
  return {'gone'}
end
local after, limit, header = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local reply = {'ok', 0, ''}
local size = 0
local from = after
if greater(meta[4], after) then
  local snapshot = redis.call('GET', KEYS[3])
  if not snapshot then
    return {'broken', 'the snapshot covering ' .. meta[4] .. ' is missing'}
  end
  reply[2] = tonumber(meta[4])
  reply[3] = snapshot
  size = header + #snapshot
  from = meta[4]
end
if not greater(meta[3], from) then
  return reply
end
-- from < last_seq, so from is small enough to count with.
for seq = tonumber(from) + 1, tonumber(meta[3]) do
  local record = redis.call('HGET', KEYS[2], field(seq))
  if not record then
    return {'broken', 'record ' .. field(seq) .. ' is missing'}
  end
  reply[#reply + 1] = seq
  reply[#reply + 1] = record
  local entry = header + #record
  if size > 0 and size + entry > limit then
    break
  end
  size = size + entry
end
return reply
