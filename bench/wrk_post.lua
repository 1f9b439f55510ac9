-- wrk script for bench/load.py: POST one JSON body over keep-alive connections.
-- Environment:
--   BENCH_BODY     the JSON body
--   BENCH_HEADERS  extra request headers, one "Name: value" per line (optional)
--   BENCH_UNIQUE   when set, each request's body has "__SEQ__" replaced by a value unique to
--                  the request, so caches in front of the upstream never see a repeat
-- done() prints one line "BENCH_RESULT {json}" with counts and client-side latency in us.

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
   local name, value = string.match(line, "^([^:]+):%s*(.*)$")
   if name then
      wrk.headers[name] = value
   end
end

local unique = os.getenv("BENCH_UNIQUE") or ""
if unique ~= "" then
   local head, tail = string.match(wrk.body, "^(.-)__SEQ__(.*)$")
   local seq = 0
   -- Without a request() hook wrk sends one pre-built request; with it, every body differs.
   function request()
      seq = seq + 1
      return wrk.format(nil, nil, nil, head .. unique .. "-" .. seq .. tail)
   end
end

-- No response() hook: without one wrk never hands bodies to Lua, which keeps the client cheap.

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
