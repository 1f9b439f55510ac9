-- wrk script for bench/soak.py: a rotating mix of requests over keep-alive connections.
-- Environment:
--   SOAK_DATA  a Lua file (written by bench/soak.py) returning {specs = {...}, schedule = {...}}:
--              each spec {path, headers, body} or, for a request no cache may answer,
--              {path, headers, head, tail}, sent as head .. SOAK_TAG .. "-" .. seq .. tail,
--              or, for a question reworded only in its spacing, {path, headers, head, words,
--              tail}, sent as head .. the words joined by 1 to 8 spaces .. tail;
--              schedule lists spec indices in the order they are sent, round and round.
--   SOAK_TAG   a value unique to this wrk run, so no two runs send the same "unique" body
--   SOAK_OFFSET  where in the schedule this run starts (each run starts somewhere else)
--   SOAK_SALT  a number unique to this wrk run: where its spacings start
-- done() prints one line "BENCH_RESULT {json}" (the format bench/load.py parses).

local data = dofile(os.getenv("SOAK_DATA"))
local specs, schedule = data.specs, data.schedule
local tag = os.getenv("SOAK_TAG") or "soak"
local prebuilt = {}
-- Built in init(): only then has wrk set the Host header that wrk.format copies in.
function init(args)
   for k, spec in ipairs(specs) do
      if spec.body then
         prebuilt[k] = wrk.format("POST", spec.path, spec.headers, spec.body)
      end
   end
end

-- The words joined by 1 to 8 spaces, each gap three bits of n: a spacing no recent request used.
local function spaced(words, n)
   local parts = {words[1]}
   for i = 2, #words do
      parts[i] = string.rep(" ", 1 + n % 8) .. words[i]
      n = math.floor(n / 8)
   end
   return table.concat(parts)
end

local turn, seq = tonumber(os.getenv("SOAK_OFFSET") or "0"), 0
local salt = tonumber(os.getenv("SOAK_SALT") or "0")
function request()
   turn = turn + 1
   local k = schedule[(turn - 1) % #schedule + 1]
   local ready = prebuilt[k]
   if ready then
      return ready
   end
   local spec = specs[k]
   seq = seq + 1
   if spec.words then
      local body = spec.head .. spaced(spec.words, salt + seq) .. spec.tail
      return wrk.format("POST", spec.path, spec.headers, body)
   end
   return wrk.format("POST", spec.path, spec.headers, spec.head .. tag .. "-" .. seq .. spec.tail)
end

-- No response() hook: wrk then never hands bodies to Lua, which keeps the client cheap.

function done(summary, latency, requests)
   local e = summary.errors
   local parts = {
      string.format('"requests":%d', summary.requests),
      string.format('"duration_us":%d', summary.duration),
      string.format('"bytes":%d', summary.bytes),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
                    e.connect, e.read, e.write, e.status, e.timeout),
      string.format('"min_us":%d', latency.min),
      string.format('"max_us":%d', latency.max),
      string.format('"mean_us":%.1f', latency.mean),
   }
   for _, p in ipairs({50, 90, 95, 99, 99.9}) do
      table.insert(parts, string.format('"p%s_us":%d', tostring(p), latency:percentile(p)))
   end
   io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end
