-- An instance's heartbeat: registers it, forgets the instances that are not there any more
-- (their counts deleted), and returns the ids of those that are, this one included.
--
-- KEYS[1]  the set of instance ids (cp:signal:instances)
-- ARGV[1]  this instance's id
-- ARGV[2]  the prefix of each instance's counts (cp:signal:counts:)
-- ARGV[3]  the prefix of each instance's beacon channel (cp:signal:instance:)
--
-- "There" is what counts.lua says: its beacon channel has a subscriber. An instance forgotten
-- while it was out of reach writes its counts and registers again when it is back.
redis.call('SADD', KEYS[1], ARGV[1])
local alive = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id == ARGV[1] or redis.call('PUBSUB', 'NUMSUB', ARGV[3] .. id)[2] > 0 then
    alive[#alive + 1] = id
  else
    redis.call('SREM', KEYS[1], id)
    redis.call('DEL', ARGV[2] .. id)
  end
end
return alive
