"""The Redis scripts that admit, settle and reconcile requests: one script call each.

Everything a request is checked against happens inside one script, so checks and counts are
atomic across every worker and host that shares the Redis: no request can slip in between
another's check and its count. The origin runs ADMIT with the limits it loaded; the edge runs
the same script in "config" mode, reading the limits the origin published.

Money is in integer units of 1e-7 cent (shared.worst_case). Amounts are written back to Redis
as the strings they arrived as, never via Lua numbers, which print large values in exponent
form. A budget's hash holds: s = settled spend, r = reserved total, q:<request> = one
reservation, i = initialised from Postgres, w = 80% warning recorded, x = block recorded;
its sorted set holds each reservation's expiry, so a crashed worker's reservations lapse.
A counter holding what a script cannot read (not an integer as INCRBY reads it, another type)
is treated as absent and deleted, in the same call: a rate-limit counter is counted afresh, a
budget is rebuilt from the ledger ("uninit"), a published budget is left out at the edge.

ADMIT (few, short arguments: packing and sending them is most of what the check costs)
  KEYS   1 limits config, then the 8 limit counters (shared.limits.limit_keys) when ARGV 7 is
         8 (none when 0: limits not counted by this call), then per budget its hash and set
  ARGV   1 now ms, 2 request id, 3 reservation ttl ms, 4 "args" | "config", 5 api key id,
         6 tokens to count, 7 number of limit counters given (0 | 8), 8 the 8 limits as
         "l1,...,l8" (0 = none; ignored in config mode), 9 the 8 window ttls ms likewise, then
         one argument per budget: "limit,amount,block 1|0,warn-at,period end ms" (units)
         In config mode, 10 the current day's, week's and month's starts ("s,s,s", unix s) and
         11 the request's tags as a JSON object
  reply  {"noconfig"} | {"uninit", b, ...} | {"limit", j, current, limit} |
         {"budget", b, spent, reserved, first} |
         {"ok", 8 counts, then per budget: spent, reserved before this request, first warning,
          then the 8 limits applied; in config mode then, per published budget covering the
          tags whose counter is initialised: id, tag key, tag value, period, action, limit,
          warn-at (units), limit (cents), spent, reserved}
         "uninit" names every budget whose counter is not initialised, all checked before any
         is read: a new project's budgets are all cold at its first request, and the caller
         rebuilds them in one round rather than one per admit; -b names one whose keys
         were unreadable and are deleted
SETTLE (any number of requests of one project at once: the origin batches them)
  per request, in order:
  KEYS   the key's and the project's token counters, then per budget its hash and set
  ARGV   request id, token correction (may be negative), exact cost units, number of budgets
  reply  the number of requests settled
RECONCILE
  KEYS   1 budget hash, 2 its set;  ARGV 1 spend in Postgres (units), 2 period end (unix s)
  reply  the spend counted from now on (the larger of Redis's and Postgres's)
"""

from __future__ import annotations

import hashlib
from typing import Final

# What every script starts with: reading a counter another writer may have left unreadable (a
# value INCRBY would refuse, or another type: seen with hand edits and other tools, and a
# script that raised on it failed every request of the project until the key expired), and
# telling a redis.pcall error from a reply. Both cost no Redis command.
GUARDS: Final = """
local function int(raw)
  if not raw then return 0 end
  if type(raw) == 'string' and #raw < 19 and (raw == '0' or string.find(raw, '^%-?[1-9]%d*$')) then
    return tonumber(raw)
  end
end
local function failed(reply) return type(reply) == 'table' and reply.err ~= nil end
"""

# What every script that reserves adds: splitting a "a,b,c" argument, and giving back the
# reservations in a budget's set whose time has passed (their workers died holding them);
# false when the set or an amount is unreadable (the caller deletes the budget's keys).
PRELUDE: Final = (
    GUARDS
    + """
local function csv(text)
  local out = {}
  for v in string.gmatch(text, '[^,]+') do out[#out + 1] = v end
  return out
end
local function lapse(h, z, now)
  local due = redis.pcall('ZRANGEBYSCORE', z, '-inf', now)
  if failed(due) then return false end
  for _, m in ipairs(due) do
    local amt = redis.call('HGET', h, 'q:' .. m)
    if amt then
      if failed(redis.pcall('HINCRBY', h, 'r', '-' .. amt)) then return false end
      redis.call('HDEL', h, 'q:' .. m)
    end
    redis.call('ZREM', z, m)
  end
  return true
end
"""
)

ADMIT: Final = (
    PRELUDE
    + """
local now, rid, ttl, nl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[7])
local limits, ttls, cfgbudgets = {}, csv(ARGV[9]), nil
if ARGV[4] == 'config' then
  local raw = redis.call('GET', KEYS[1])
  if not raw then return {'noconfig'} end
  local cfg = cjson.decode(raw)
  if type(cfg.budgets) == 'table' then cfgbudgets = cfg.budgets end
  local k = (type(cfg.keys) == 'table' and cfg.keys[ARGV[5]]) or {}
  local p = cfg.project or {}
  for i = 1, 4 do
    limits[i] = tonumber(k[i]) or 0
    limits[i + 4] = tonumber(p[i]) or 0
  end
else
  local given = csv(ARGV[8])
  for i = 1, 8 do limits[i] = (nl > 0 and tonumber(given[i])) or 0 end
end
local nb = (#KEYS - 1 - nl) / 2
-- A budget whose keys are unreadable is deleted and named as -b among the cold ones: rebuilt
-- from the ledger like any lost counter, and the origin logs it.
local cold = {'uninit'}
for b = 1, nb do
  local init = redis.pcall('HEXISTS', KEYS[nl + 2 * b], 'i')
  if init == 0 then
    cold[#cold + 1] = b
  elseif init ~= 1 then
    redis.call('DEL', KEYS[nl + 2 * b], KEYS[nl + 1 + 2 * b])
    cold[#cold + 1] = -b
  end
end
if #cold > 1 then return cold end
local spent, reserved, budgets = {}, {}, {}
for b = 1, nb do
  local h, z = KEYS[nl + 2 * b], KEYS[nl + 1 + 2 * b]
  local f = csv(ARGV[9 + b])  -- limit, amount, block, warn at, expire at
  budgets[b] = f
  if lapse(h, z, now) then
    local v = redis.call('HMGET', h, 's', 'r')
    spent[b], reserved[b] = int(v[1]), int(v[2])
  end
  local amount = tonumber(f[2])
  if not (spent[b] and reserved[b]) then
    redis.call('DEL', h, z)
    cold[#cold + 1] = -b
  elseif f[3] == '1' and amount > 0 and spent[b] + reserved[b] + amount > tonumber(f[1]) then
    return {'budget', b, spent[b], reserved[b], redis.call('HSETNX', h, 'x', '1')}
  end
end
if #cold > 1 then return cold end
local tokens = tonumber(ARGV[6])
local function inc(j) if j == 4 or j == 8 then return tokens end return 1 end
-- Each counter read once; an unreadable one is deleted and counted afresh from this request.
local counts = {}
for j = 1, 8 do
  if limits[j] > 0 then
    local cur = int(redis.pcall('GET', KEYS[1 + j]))
    if not cur then
      redis.call('DEL', KEYS[1 + j])
      cur = 0
    end
    if cur + inc(j) > limits[j] then return {'limit', j, cur, limits[j]} end
    counts[j] = cur
  end
end
local out = {'ok'}
for j = 1, 8 do
  local v = 0
  if limits[j] > 0 then
    v = counts[j]
    if inc(j) > 0 then
      v = redis.call('INCRBY', KEYS[1 + j], (j == 4 or j == 8) and ARGV[6] or '1')
      if v == inc(j) then redis.call('PEXPIRE', KEYS[1 + j], ttls[j]) end
    end
  end
  out[#out + 1] = v
end
for b = 1, nb do
  local h, z, f = KEYS[nl + 2 * b], KEYS[nl + 1 + 2 * b], budgets[b]
  if tonumber(f[2]) > 0 then
    redis.call('HINCRBY', h, 'r', f[2])
    redis.call('HSET', h, 'q:' .. rid, f[2])
    redis.call('ZADD', z, now + ttl, rid)
    redis.call('PEXPIREAT', z, f[5])
  end
  local first = 0
  if spent[b] >= tonumber(f[4]) then first = redis.call('HSETNX', h, 'w', '1') end
  out[#out + 1] = spent[b]
  out[#out + 1] = reserved[b]
  out[#out + 1] = first
end
for j = 1, 8 do out[#out + 1] = limits[j] end
if cfgbudgets and #cfgbudgets > 0 then
  -- Config mode (the edge's cache hits, which spend nothing): each initialised budget covering
  -- the request, as published (id, key prefix, tag key, tag value, period, action, limit,
  -- warn-at, limit in cents), then its spent and reserved, read from its hash for this period.
  local s = csv(ARGV[10])
  local start = {day = s[1], week = s[2], month = s[3]}
  local tags = cjson.decode(ARGV[11])
  for _, b in ipairs(cfgbudgets) do
    local h = start[b[5]] and (b[2] .. start[b[5]])
    local init = h and (b[3] == '' or tags[b[3]] == b[4]) and redis.pcall('HEXISTS', h, 'i')
    local v = init == 1 and redis.call('HMGET', h, 's', 'r')
    if v and int(v[1]) and int(v[2]) then
      for i = 1, 9 do
        if i ~= 2 then out[#out + 1] = b[i] end
      end
      out[#out + 1] = v[1] or '0'
      out[#out + 1] = v[2] or '0'
    elseif init and init ~= 0 then
      redis.call('DEL', h, h .. ':res')  -- unreadable: the next miss rebuilds it
    end
  end
end
return out
"""
)

SETTLE: Final = (
    GUARDS
    + """
-- A counter or budget this cannot update is deleted rather than failing the whole batch: the
-- next admit counts the counter afresh, or rebuilds the budget from the ledger.
local function settle(h, z, rid, cost)
  local amt = redis.pcall('HGET', h, 'q:' .. rid)
  if failed(amt) then return false end
  if amt then
    if failed(redis.pcall('HINCRBY', h, 'r', '-' .. amt)) then return false end
    redis.call('HDEL', h, 'q:' .. rid)
    if failed(redis.pcall('ZREM', z, rid)) then return false end
  end
  return cost == '0' or not failed(redis.pcall('HINCRBY', h, 's', cost))
end
local k = 0
for i = 1, #ARGV, 4 do
  local rid, delta, cost, nb = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  if delta ~= '0' then
    for j = 1, 2 do
      local key = KEYS[k + j]
      if redis.call('EXISTS', key) == 1 and failed(redis.pcall('INCRBY', key, delta)) then
        redis.call('DEL', key)
      end
    end
  end
  for b = 1, nb do
    local h, z = KEYS[k + 1 + 2 * b], KEYS[k + 2 + 2 * b]
    if not settle(h, z, rid, cost) then redis.call('DEL', h, z) end
  end
  k = k + 2 + 2 * nb
end
return #ARGV / 4
"""
)

RECONCILE: Final = (
    GUARDS
    + """
-- Unreadable keys are rebuilt from the ledger's sum alone, as after a flush.
local v = redis.pcall('HMGET', KEYS[1], 's', 'r')
local set = redis.call('TYPE', KEYS[2])['ok']
if failed(v) or not (int(v[1]) and int(v[2])) or (set ~= 'zset' and set ~= 'none') then
  redis.call('DEL', KEYS[1], KEYS[2])
  v = {false, false}
end
if not v[1] or tonumber(ARGV[1]) > tonumber(v[1]) then redis.call('HSET', KEYS[1], 's', ARGV[1]) end
redis.call('HSET', KEYS[1], 'i', '1')
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return redis.call('HGET', KEYS[1], 's')
"""
)


def sha1(script: str) -> str:
    """The digest EVALSHA names a script by."""
    return hashlib.sha1(script.encode()).hexdigest()


ADMIT_SHA: Final = sha1(ADMIT)
SETTLE_SHA: Final = sha1(SETTLE)
