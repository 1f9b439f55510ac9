"""The Redis scripts that admit, settle and reconcile requests: one round trip each.

Everything a request is checked against happens inside one script, so checks and counts are
atomic across every worker and host that shares the Redis: no request can slip in between
another's check and its count. The origin runs ADMIT with the limits it loaded; the edge runs
the same script in "config" mode, reading the limits the origin published.

Money is in integer units of 1e-7 cent (shared.worst_case). Amounts are written back to Redis
as the strings they arrived as, never via Lua numbers, which print large values in exponent
form. A budget's hash holds: s = settled spend, r = reserved total, q:<request> = one
reservation, i = initialised from Postgres, w = 80% warning recorded, x = block recorded;
its sorted set holds each reservation's expiry, so a crashed worker's reservations lapse.

ADMIT
  KEYS   1 limits config, 2..9 limit counters (shared.limits.limit_keys), then per budget its
         hash and sorted set
  ARGV   1 now ms, 2 request id, 3 reservation ttl ms, 4 "args" | "config", 5 api key id,
         6 tokens to count, 7..14 limits (0 = none), 15..22 window ttl ms, then per budget:
         limit units, amount units, block 1|0, warn-at units, period end (unix ms)
  reply  {"noconfig"} | {"uninit", b} | {"limit", j, current, limit} |
         {"budget", b, spent, reserved, first} |
         {"ok", 8 counts, then per budget: spent, reserved before this request, first warning,
          then the 8 limits applied}
SETTLE
  KEYS   1..2 the key's and the project's token counters, then per budget hash and set
  ARGV   1 request id, 2 token correction (may be negative), 3 exact cost units
RECONCILE
  KEYS   1 budget hash, 2 its set;  ARGV 1 spend in Postgres (units), 2 period end (unix s)
  reply  the spend counted from now on (the larger of Redis's and Postgres's)
"""

from __future__ import annotations

import hashlib
from typing import Final

BUDGET_ARGS: Final = 5
FIRST_BUDGET_ARG: Final = 23
FIRST_BUDGET_KEY: Final = 10

ADMIT: Final = """
local now, rid, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local limits = {}
if ARGV[4] == 'config' then
  local raw = redis.call('GET', KEYS[1])
  if not raw then return {'noconfig'} end
  local cfg = cjson.decode(raw)
  local k = (type(cfg.keys) == 'table' and cfg.keys[ARGV[5]]) or {}
  local p = cfg.project or {}
  for i = 1, 4 do
    limits[i] = tonumber(k[i]) or 0
    limits[i + 4] = tonumber(p[i]) or 0
  end
else
  for i = 1, 8 do limits[i] = tonumber(ARGV[6 + i]) end
end
local nb = (#KEYS - 9) / 2
local spent, reserved = {}, {}
for b = 1, nb do
  local h, z, o = KEYS[8 + 2 * b], KEYS[9 + 2 * b], 23 + 5 * (b - 1)
  if redis.call('HEXISTS', h, 'i') == 0 then return {'uninit', b} end
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', now)) do
    local amt = redis.call('HGET', h, 'q:' .. m)
    if amt then
      redis.call('HINCRBY', h, 'r', '-' .. amt)
      redis.call('HDEL', h, 'q:' .. m)
    end
    redis.call('ZREM', z, m)
  end
  spent[b] = tonumber(redis.call('HGET', h, 's') or '0')
  reserved[b] = tonumber(redis.call('HGET', h, 'r') or '0')
  local amount = tonumber(ARGV[o + 1])
  if ARGV[o + 2] == '1' and amount > 0 and spent[b] + reserved[b] + amount > tonumber(ARGV[o]) then
    return {'budget', b, spent[b], reserved[b], redis.call('HSETNX', h, 'x', '1')}
  end
end
local tokens = tonumber(ARGV[6])
local function inc(j) if j == 4 or j == 8 then return tokens end return 1 end
for j = 1, 8 do
  if limits[j] > 0 then
    local cur = tonumber(redis.call('GET', KEYS[1 + j]) or '0')
    if cur + inc(j) > limits[j] then return {'limit', j, cur, limits[j]} end
  end
end
local out = {'ok'}
for j = 1, 8 do
  local v = 0
  if limits[j] > 0 then
    v = tonumber(redis.call('GET', KEYS[1 + j]) or '0')
    if inc(j) > 0 then
      v = redis.call('INCRBY', KEYS[1 + j], (j == 4 or j == 8) and ARGV[6] or '1')
      if v == inc(j) then redis.call('PEXPIRE', KEYS[1 + j], ARGV[14 + j]) end
    end
  end
  out[#out + 1] = v
end
for b = 1, nb do
  local h, z, o = KEYS[8 + 2 * b], KEYS[9 + 2 * b], 23 + 5 * (b - 1)
  if tonumber(ARGV[o + 1]) > 0 then
    redis.call('HINCRBY', h, 'r', ARGV[o + 1])
    redis.call('HSET', h, 'q:' .. rid, ARGV[o + 1])
    redis.call('ZADD', z, now + ttl, rid)
    redis.call('PEXPIREAT', z, ARGV[o + 4])
  end
  local first = 0
  if spent[b] >= tonumber(ARGV[o + 3]) then first = redis.call('HSETNX', h, 'w', '1') end
  out[#out + 1] = spent[b]
  out[#out + 1] = reserved[b]
  out[#out + 1] = first
end
for j = 1, 8 do out[#out + 1] = limits[j] end
return out
"""

SETTLE: Final = """
local rid = ARGV[1]
if ARGV[2] ~= '0' then
  for i = 1, 2 do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[2]) end
  end
end
for b = 1, (#KEYS - 2) / 2 do
  local h, z = KEYS[1 + 2 * b], KEYS[2 + 2 * b]
  local amt = redis.call('HGET', h, 'q:' .. rid)
  if amt then
    redis.call('HINCRBY', h, 'r', '-' .. amt)
    redis.call('HDEL', h, 'q:' .. rid)
    redis.call('ZREM', z, rid)
  end
  if ARGV[3] ~= '0' then redis.call('HINCRBY', h, 's', ARGV[3]) end
end
return 1
"""

RECONCILE: Final = """
local s = redis.call('HGET', KEYS[1], 's')
if not s or tonumber(ARGV[1]) > tonumber(s) then redis.call('HSET', KEYS[1], 's', ARGV[1]) end
redis.call('HSET', KEYS[1], 'i', '1')
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return redis.call('HGET', KEYS[1], 's')
"""


def sha1(script: str) -> str:
    """The digest EVALSHA names a script by."""
    return hashlib.sha1(script.encode()).hexdigest()


ADMIT_SHA: Final = sha1(ADMIT)
