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
"""

from __future__ import annotations

from typing import Final

from shared.spend_scripts import PRELUDE, sha1

ALLOW: Final = (
    PRELUDE
    + """
local now, rid, ttl = tonumber(ARGV[1]), 'A:' .. ARGV[2], tonumber(ARGV[3])
local nb, nc = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for b = 1, nb do
  local h, z = KEYS[2 * b - 1], KEYS[2 * b]
  local f = csv(ARGV[5 + b])
  if redis.call('HEXISTS', h, 'i') == 0 then
    out[#out + 1] = 0
    out[#out + 1] = 0
    out[#out + 1] = -1
  else
    lapse(h, z, now)
    local cur = redis.call('HGET', h, 'q:' .. rid)
    if cur then redis.call('HINCRBY', h, 'r', '-' .. cur) end
    if f[2] ~= '0' then redis.call('HINCRBY', h, 's', f[2]) end
    local s = tonumber(redis.call('HGET', h, 's') or '0')
    local r = tonumber(redis.call('HGET', h, 'r') or '0')
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
    out[#out + 1] = s
    out[#out + 1] = r
    out[#out + 1] = granted
  end
end
for j = 1, nc do
  local key, f = KEYS[2 * nb + j], csv(ARGV[5 + nb + j])
  local raw = redis.call('GET', key)
  local cur = tonumber(raw or '0')
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
