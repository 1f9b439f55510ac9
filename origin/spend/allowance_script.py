"""ALLOW: the one script of spend control's fast path (origin.spend.allowances), per project.

A worker holds an allowance on a budget (a reservation under the request id "A:<worker>") and
on a request counter (counts added ahead of the requests that will use them), and admits
requests against it in memory. This script renews every allowance of one project at once: for a
budget it adds the spend settled locally since the last call (`pending`), gives back the old
reservation and takes a new one of `held` (the worst cases of the worker's requests still in
flight and what it may admit while this call is out, always kept) or, only while the budget
stays at or under half its limit with it, that grown by the `want`; for a counter it gives back
the counts the worker did not use (less those it keeps for this call's round trip) and, only
while the counter stays at or under half its limit, takes a new block. Near a limit there is no
allowance at all: every request goes through ADMIT and SETTLE, exactly as without this.

Amounts travel as the strings the worker computed (Lua numbers print large values in exponent
form); Lua only compares them.

  KEYS  per budget its hash and reservation set, then the counters
  ARGV  1 now ms, 2 worker id, 3 reservation ttl ms, 4 number of budgets, 5 number of counters,
        then per budget "half of limit,pending,held,held grown by the want,set expiry ms" (units),
        then per counter "half of limit,unused,want,window ttl ms"
  reply per budget: spent, reserved by others, 1 if the want was granted (0: only held;
        -1: the budget is not initialised, nothing done), then per counter: its count, the
        block granted (0 or want)
A budget or counter holding what the script cannot read is deleted (shared.spend_scripts).
"""

from __future__ import annotations

from typing import Final

from shared.spend_scripts import PRELUDE, sha1

ALLOW: Final = (
    PRELUDE
    + """
local now, rid, ttl = tonumber(ARGV[1]), 'A:' .. ARGV[2], tonumber(ARGV[3])
local nb, nc = tonumber(ARGV[4]), tonumber(ARGV[5])
-- Renews one budget's allowance: its spent, reserved by others and 1 if the want was granted;
-- nothing when it is not initialised, or unreadable (then deleted, for ADMIT to rebuild).
local function wipe(h, z) redis.call('DEL', h, z) end
local function renew(h, z, f)
  local init = redis.pcall('HEXISTS', h, 'i')
  if init == 0 then return end
  if init ~= 1 or not lapse(h, z, now) then return wipe(h, z) end
  local cur = redis.call('HGET', h, 'q:' .. rid)
  if cur and failed(redis.pcall('HINCRBY', h, 'r', '-' .. cur)) then return wipe(h, z) end
  if f[2] ~= '0' and failed(redis.pcall('HINCRBY', h, 's', f[2])) then return wipe(h, z) end
  local v = redis.call('HMGET', h, 's', 'r')
  local s, r = int(v[1]), int(v[2])
  if not (s and r) then return wipe(h, z) end
  local grant, granted = f[3], 0
  if f[4] ~= f[3] and s + r + tonumber(f[4]) <= tonumber(f[1]) then
    grant, granted = f[4], 1
  end
  if grant ~= '0' then
    redis.call('HSET', h, 'q:' .. rid, grant)
    redis.call('HINCRBY', h, 'r', grant)
    redis.call('ZADD', z, now + ttl, rid)
    redis.call('PEXPIREAT', z, f[5])
  else
    redis.call('HDEL', h, 'q:' .. rid)
    redis.call('ZREM', z, rid)
  end
  return s, r, granted
end
local out = {}
for b = 1, nb do
  local s, r, granted = renew(KEYS[2 * b - 1], KEYS[2 * b], csv(ARGV[5 + b]))
  out[#out + 1] = s or 0
  out[#out + 1] = r or 0
  out[#out + 1] = granted or -1
end
for j = 1, nc do
  local key, f = KEYS[2 * nb + j], csv(ARGV[5 + nb + j])
  local raw = redis.pcall('GET', key)
  local cur = int(raw)
  if not cur then  -- unreadable: counted afresh
    redis.call('DEL', key)
    raw, cur = false, 0
  end
  local unused, want = tonumber(f[2]), tonumber(f[3])
  if raw and unused > 0 then
    cur = redis.call('DECRBY', key, math.min(unused, cur))
  end
  local grant = 0
  if want > 0 and cur + want <= tonumber(f[1]) then
    cur = redis.call('INCRBY', key, want)
    if cur == want then redis.call('PEXPIRE', key, f[4]) end
    grant = want
  end
  out[#out + 1] = cur
  out[#out + 1] = grant
end
return out
"""
)

ALLOW_SHA: Final = sha1(ALLOW)
