-- The subscribers to topics on the other instances that are there now.
--
-- KEYS[1]  the set of instance ids (cp:signal:instances)
-- ARGV[1]  this instance's id, left out
-- ARGV[2]  the prefix of each instance's counts (cp:signal:counts:), a hash: topic -> count
-- ARGV[3]  the prefix of each instance's beacon channel (cp:signal:instance:)
-- ARGV[4…] topics, as their fields
--
-- Returns one sum per topic, in order. An instance counts while its beacon channel has a
-- subscriber, i.e. while its link to Redis is up: Redis drops an instance's subscriptions with
-- its connection, so one that died or lost Redis stops counting at once, whatever its hash
-- still says.
local others = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if id ~= ARGV[1] and redis.call('PUBSUB', 'NUMSUB', ARGV[3] .. id)[2] > 0 then
    others[#others + 1] = ARGV[2] .. id
  end
end
local sums = {}
for i = 4, #ARGV do
  local sum = 0
  for _, key in ipairs(others) do
    sum = sum + (tonumber(redis.call('HGET', key, ARGV[i])) or 0)
  end
  sums[#sums + 1] = sum
end
return sums
