-- Shared by every store script (prepended to each).
--
-- A store's keys, all with the hash tag {id} so that they live in one cluster slot:
--   KEYS[1]  cp:store:{id}           hash: token, removed, last_seq, bytes, records, covers
--   KEYS[2]  cp:store:{id}:records   hash: seq (decimal) -> record
--   KEYS[3]  cp:store:{id}:snapshot  string: the snapshot (absent while covers is 0)
--
-- The records a store holds are exactly those numbered covers+1 .. last_seq: appends add
-- last_seq+1, a snapshot removes everything up to what it covers, nothing else removes one.
--
-- Each script reads and checks everything first and writes only after every check has passed:
-- Redis does not roll a script back, so a refused request must have written nothing.
--
-- Numbers: Lua's are doubles, exact below 2^53; sequence numbers stay far below (a million
-- appends a second for 285 years). Numbers from the request (after, covers, replaces) may be
-- anything up to 2^63-1, so they are compared as decimal strings, exactly; numbers are never
-- turned into strings with tostring (it rounds to 14 digits), only with string.format('%d').

-- a > b, for decimal strings of whole numbers without leading zeros (as Redis and Rust write
-- them). Byte by byte: Lua's string comparison follows the locale.
local function greater(a, b)
  if #a ~= #b then
    return #a > #b
  end
  for i = 1, #a do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x > y
    end
  end
  return false
end

local function field(seq)
  return string.format('%d', seq)
end
