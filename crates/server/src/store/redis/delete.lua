-- Delete a store, leaving a tombstone. ARGV: token digest.
-- Answers {'deleted'} | {'already'} | {'not_found'} | {'wrong_token'}.
local meta = redis.call('HMGET', KEYS[1], 'token', 'removed')
if not meta[1] then
  return {'not_found'}
end
if meta[1] ~= ARGV[1] then
  return {'wrong_token'}
end
if meta[2] == '1' then
  return {'already'}
end
-- The ciphertext goes; the id and the token's digest stay, counting nothing against a quota.
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'removed', '1', 'last_seq', '0', 'bytes', '0', 'records', '0',
  'covers', '0')
return {'deleted'}
